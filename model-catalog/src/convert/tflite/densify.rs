//! TFLite's sparse tensors made dense, as its DENSIFY operator does (the TACO-style format of `schema.fbs`: a
//! traversal order of the dimensions, optional blocks, and per level either a dense size or CSR segments and
//! indices), so sparse weights become ordinary initializers.

use super::super::ConvertError;
use super::super::tensor::{Const, f16_to_f32, f32_from_le};
use super::{Model, fb};

enum Level {
    Dense(usize),
    Sparse {
        segments: Vec<usize>,
        indices: Vec<usize>,
    },
}

fn index_vector(
    kind: fb::SparseIndexVector,
    as_i32: Option<fb::Int32Vector<'_>>,
    as_u16: Option<fb::Uint16Vector<'_>>,
    as_u8: Option<fb::Uint8Vector<'_>>,
) -> Result<Vec<usize>, ConvertError> {
    let values: Option<Vec<usize>> = match kind {
        fb::SparseIndexVector::Int32Vector => as_i32
            .and_then(|v| v.values())
            .map(|v| v.iter().map(|x| x.max(0) as usize).collect()),
        fb::SparseIndexVector::Uint16Vector => as_u16
            .and_then(|v| v.values())
            .map(|v| v.iter().map(usize::from).collect()),
        fb::SparseIndexVector::Uint8Vector => as_u8
            .and_then(|v| v.values())
            .map(|v| v.iter().map(usize::from).collect()),
        _ => None,
    };
    values.ok_or_else(|| {
        ConvertError::Malformed("a sparse dimension without its index vector".into())
    })
}

/// The dense float content of sparse tensor `index`.
pub(super) fn densify(model: &Model<'_>, index: usize) -> Result<Const, ConvertError> {
    let tensor = model.tensor(index)?;
    let sparsity = tensor
        .sparsity()
        .ok_or_else(|| ConvertError::Malformed("DENSIFY of a dense tensor".into()))?;
    let bytes = model.data(index)?;
    let values = match tensor.type_() {
        fb::TensorType::FLOAT32 => f32_from_le(bytes),
        fb::TensorType::FLOAT16 => f16_to_f32(bytes),
        other => {
            return Err(ConvertError::Unsupported(format!(
                "sparse tensor of type {other:?}"
            )));
        }
    };
    let shape: Vec<usize> = model
        .shape(index)?
        .iter()
        .map(|&d| d.max(0) as usize)
        .collect();
    let traversal: Vec<usize> = sparsity
        .traversal_order()
        .into_iter()
        .flatten()
        .map(|v| v.max(0) as usize)
        .collect();
    let block_map: Vec<usize> = sparsity
        .block_map()
        .into_iter()
        .flatten()
        .map(|v| v.max(0) as usize)
        .collect();
    let mut levels = Vec::new();
    for meta in sparsity.dim_metadata().into_iter().flatten() {
        levels.push(if meta.format() == fb::DimensionType::DENSE {
            Level::Dense(meta.dense_size().max(0) as usize)
        } else {
            Level::Sparse {
                segments: index_vector(
                    meta.array_segments_type(),
                    meta.array_segments_as_int_32_vector(),
                    meta.array_segments_as_uint_16_vector(),
                    meta.array_segments_as_uint_8_vector(),
                )?,
                indices: index_vector(
                    meta.array_indices_type(),
                    meta.array_indices_as_int_32_vector(),
                    meta.array_indices_as_uint_16_vector(),
                    meta.array_indices_as_uint_8_vector(),
                )?,
            }
        });
    }
    let dense = populate_dense(&shape, &traversal, &block_map, &levels, &values)?;
    Const::new(shape, dense)
}

/// The dense values of a tensor of `shape` from its sparse `values` and metadata.
fn populate_dense(
    shape: &[usize],
    traversal: &[usize],
    block_map: &[usize],
    levels: &[Level],
    values: &[f32],
) -> Result<Vec<f32>, ConvertError> {
    if levels.len() != traversal.len() || traversal.len() != shape.len() + block_map.len() {
        return Err(ConvertError::Malformed(
            "sparsity metadata of inconsistent length".into(),
        ));
    }
    let block_sizes: Vec<usize> = (0..block_map.len())
        .map(|b| {
            match traversal
                .iter()
                .position(|&t| t == shape.len() + b)
                .map(|l| &levels[l])
            {
                Some(Level::Dense(size)) => Ok(*size),
                _ => Err(ConvertError::Malformed(
                    "a block dimension that is not dense".into(),
                )),
            }
        })
        .collect::<Result<_, _>>()?;
    let mut state = Densify {
        shape,
        traversal,
        block_map,
        block_sizes: &block_sizes,
        levels,
        values,
        next_value: 0,
        dense: vec![0.0; shape.iter().product()],
        indices: vec![0; levels.len()],
    };
    state.populate(0, 0)?;
    if state.next_value != values.len() {
        return Err(ConvertError::Malformed(format!(
            "sparse tensor placed {} of its {} values",
            state.next_value,
            values.len()
        )));
    }
    Ok(state.dense)
}

struct Densify<'a> {
    shape: &'a [usize],
    traversal: &'a [usize],
    block_map: &'a [usize],
    block_sizes: &'a [usize],
    levels: &'a [Level],
    values: &'a [f32],
    next_value: usize,
    dense: Vec<f32>,
    /// The coordinate being visited, one entry per level.
    indices: Vec<usize>,
}

impl Densify<'_> {
    /// Visits level `level` under position `parent` of the level above (TFLite's FormatConverter::Populate).
    fn populate(&mut self, level: usize, parent: usize) -> Result<(), ConvertError> {
        if level == self.levels.len() {
            return self.place();
        }
        match &self.levels[level] {
            Level::Dense(size) => {
                for i in 0..*size {
                    self.indices[level] = i;
                    self.populate(level + 1, parent * size + i)?;
                }
            }
            Level::Sparse { segments, indices } => {
                let (Some(&start), Some(&end)) = (segments.get(parent), segments.get(parent + 1))
                else {
                    return Err(ConvertError::Malformed("sparse segments too short".into()));
                };
                for (i, &index) in indices.iter().enumerate().take(end).skip(start) {
                    self.indices[level] = index;
                    self.populate(level + 1, i)?;
                }
            }
        }
        Ok(())
    }

    fn place(&mut self) -> Result<(), ConvertError> {
        let rank = self.shape.len();
        let mut coordinate = vec![0usize; rank];
        for (level, &dim) in self.traversal.iter().enumerate().take(rank) {
            coordinate[dim] = self.indices[level];
        }
        for (level, &dim) in self.traversal.iter().enumerate().skip(rank) {
            let block = dim - rank;
            let original = self.block_map[block];
            coordinate[original] =
                coordinate[original] * self.block_sizes[block] + self.indices[level];
        }
        let mut flat = 0;
        for (axis, &c) in coordinate.iter().enumerate() {
            if c >= self.shape[axis] {
                return Err(ConvertError::Malformed(
                    "a sparse index outside the tensor".into(),
                ));
            }
            flat = flat * self.shape[axis] + c;
        }
        let value = *self
            .values
            .get(self.next_value)
            .ok_or_else(|| ConvertError::Malformed("sparse tensor has too few values".into()))?;
        self.dense[flat] = value;
        self.next_value += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csr_rows_and_blocks_land_where_they_belong() {
        // [[0, 0, a], [b, c, 0]] in CSR: row pointers 0, 1, 3 and column indices 2, 0, 1.
        let csr = [
            Level::Dense(2),
            Level::Sparse {
                segments: vec![0, 1, 3],
                indices: vec![2, 0, 1],
            },
        ];
        let dense = populate_dense(&[2, 3], &[0, 1], &[], &csr, &[1.0, 2.0, 3.0]).unwrap();
        assert_eq!(dense, vec![0.0, 0.0, 1.0, 2.0, 3.0, 0.0]);
        // A 2x4 matrix in 1x2 blocks along dim 1: the block at (0, 1) and the one at (1, 0).
        let blocked = [
            Level::Dense(2),
            Level::Sparse {
                segments: vec![0, 1, 2],
                indices: vec![1, 0],
            },
            Level::Dense(2),
        ];
        let dense =
            populate_dense(&[2, 4], &[0, 1, 2], &[1], &blocked, &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(dense, vec![0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 0.0, 0.0]);
        assert!(
            populate_dense(&[2, 3], &[0, 1], &[], &csr, &[1.0]).is_err(),
            "too few values"
        );
    }
}
