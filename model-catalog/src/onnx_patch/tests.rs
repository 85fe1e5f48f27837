//! The dynamic-batch edit on a tiny hand-encoded model: Resize (constant sizes) -> Transpose -> Reshape (constant
//! shape) -> last op, batch 1 everywhere, plus fields the edit must carry through untouched.

use super::graph::{Dim, FLOAT, Graph};
use super::wire::{Field, fields, first, put_bytes_field, put_varint, put_varint_field};
use super::*;

fn string(out: &mut Vec<u8>, number: u32, s: &str) {
    put_bytes_field(out, number, s.as_bytes());
}

/// A float ValueInfoProto; the first dimension carries a denotation, which the edit must keep.
fn value_info(name: &str, dims: &[i64]) -> Vec<u8> {
    let mut shape = Vec::new();
    for (i, &d) in dims.iter().enumerate() {
        let mut dim = Vec::new();
        put_varint_field(&mut dim, 1, d as u64);
        if i == 0 {
            string(&mut dim, 3, "DATA_BATCH");
        }
        put_bytes_field(&mut shape, 1, &dim);
    }
    let mut tensor = Vec::new();
    put_varint_field(&mut tensor, 1, FLOAT as u64);
    put_bytes_field(&mut tensor, 2, &shape);
    let mut ty = Vec::new();
    put_bytes_field(&mut ty, 1, &tensor);
    let mut info = Vec::new();
    string(&mut info, 1, name);
    put_bytes_field(&mut info, 2, &ty);
    info
}

fn node(op: &str, inputs: &[&str], output: &str, perm: Option<&[i64]>) -> Vec<u8> {
    let mut n = Vec::new();
    inputs.iter().for_each(|i| string(&mut n, 1, i));
    string(&mut n, 2, output);
    string(&mut n, 3, &format!("{op}_{output}"));
    string(&mut n, 4, op);
    if let Some(perm) = perm {
        let mut attr = Vec::new();
        string(&mut attr, 1, "perm");
        perm.iter()
            .for_each(|&p| put_varint_field(&mut attr, 8, p as u64));
        put_varint_field(&mut attr, 20, 7);
        put_bytes_field(&mut n, 5, &attr);
    }
    n
}

/// An INT64 initializer, in raw_data or as packed int64_data.
fn int64_initializer(name: &str, values: &[i64], raw: bool) -> Vec<u8> {
    let mut t = Vec::new();
    put_varint_field(&mut t, 1, values.len() as u64);
    put_varint_field(&mut t, 2, 7);
    string(&mut t, 8, name);
    if raw {
        let data: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        put_bytes_field(&mut t, 9, &data);
    } else {
        let mut packed = Vec::new();
        values
            .iter()
            .for_each(|&v| put_varint(&mut packed, v as u64));
        put_bytes_field(&mut t, 7, &packed);
    }
    t
}

struct Tiny {
    last_op: &'static str,
    perm: [i64; 4],
    /// A node that also reads the Reshape's shape constant.
    shape_shared: bool,
}

impl Default for Tiny {
    fn default() -> Self {
        Self {
            last_op: "Relu",
            perm: [0, 2, 3, 1],
            shape_shared: false,
        }
    }
}

impl Tiny {
    fn encode(&self) -> Vec<u8> {
        let mut g = Vec::new();
        let nodes = [
            node("Resize", &["x", "roi", "roi", "sizes"], "up", None),
            node("Transpose", &["up"], "t", Some(&self.perm)),
            node("Reshape", &["t", "shape"], "y", None),
            node(self.last_op, &["y"], "out", None),
        ];
        nodes.iter().for_each(|n| put_bytes_field(&mut g, 1, n));
        if self.shape_shared {
            put_bytes_field(&mut g, 1, &node("Add", &["y", "shape"], "z", None));
        }
        string(&mut g, 2, "tiny");
        let mut roi = Vec::new();
        put_varint_field(&mut roi, 1, 0);
        put_varint_field(&mut roi, 2, FLOAT as u64);
        string(&mut roi, 8, "roi");
        put_bytes_field(&mut g, 5, &roi);
        put_bytes_field(&mut g, 5, &int64_initializer("sizes", &[1, 3, 8, 8], true));
        put_bytes_field(&mut g, 5, &int64_initializer("shape", &[1, -1, 3], false));
        string(&mut g, 10, "doc of the graph");
        put_bytes_field(&mut g, 11, &value_info("x", &[1, 3, 4, 4]));
        put_bytes_field(&mut g, 12, &value_info("out", &[1, 192, 3]));
        put_bytes_field(&mut g, 13, &value_info("up", &[1, 3, 8, 8]));
        put_bytes_field(&mut g, 13, &value_info("t", &[1, 8, 8, 3]));
        string(&mut g, 99, "a field this reader does not know");

        let mut model = Vec::new();
        put_varint_field(&mut model, 1, 7);
        string(&mut model, 2, "hand");
        let mut opset = Vec::new();
        put_varint_field(&mut opset, 2, 11);
        put_bytes_field(&mut model, 8, &opset);
        put_bytes_field(&mut model, 7, &g);
        string(&mut model, 77, "unknown model field");
        model
    }
}

fn graph_of(model: &[u8]) -> Graph<'_> {
    let fs = fields(model, "ModelProto").unwrap();
    Graph::read(graph_payload(&fs).unwrap()).unwrap()
}

fn raw_fields(bytes: &[u8]) -> Vec<&[u8]> {
    fields(bytes, "test")
        .unwrap()
        .iter()
        .map(|f| f.raw)
        .collect()
}

#[test]
fn nothing_to_edit_writes_the_model_back_byte_identical() {
    let model = Tiny::default().encode();
    assert_eq!(apply(&model, &Plan::default()).unwrap(), model);
}

#[test]
fn the_edits_land_where_expected() {
    let model = Tiny::default().encode();
    let (patched, summary) = make_batch_dynamic(&model).unwrap();
    assert_eq!(
        summary,
        DynamicBatchSummary {
            inputs: 1,
            outputs: 1,
            value_infos: 2,
            reshape_shapes: 1,
            resizes: 1,
        }
    );
    let g = graph_of(&patched);
    let batch = Dim::Param("batch".into());
    assert_eq!(
        g.shape_of("x").unwrap(),
        [batch.clone(), Dim::Value(3), Dim::Value(4), Dim::Value(4)]
    );
    assert_eq!(
        g.shape_of("out").unwrap(),
        [batch.clone(), Dim::Value(192), Dim::Value(3)]
    );
    assert_eq!(g.shape_of("up").unwrap()[0], batch);
    assert_eq!(g.shape_of("t").unwrap()[0], batch);
    assert_eq!(
        g.initializers["shape"].int64s.as_deref(),
        Some(&[0, -1, 3][..])
    );
    assert!(
        !g.initializers.contains_key("sizes"),
        "the unused sizes are dropped"
    );

    let resize = &g.nodes[0];
    assert_eq!(resize.inputs[..2], ["x", "roi"]);
    assert_eq!(resize.inputs.len(), 3, "sizes no longer given");
    let scales = g.fields[g.initializers[resize.inputs[2]].field]
        .bytes()
        .unwrap();
    let scales = fields(scales, "TensorProto").unwrap();
    assert_eq!(
        first(&scales, 2).unwrap().value,
        wire::Value::Varint(FLOAT as u64)
    );
    let values: Vec<f32> = first(&scales, 9)
        .and_then(Field::bytes)
        .unwrap()
        .chunks(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(values, [1.0, 1.0, 2.0, 2.0]);

    // What the edit does not name is carried through as it was.
    let (before, after) = (raw_fields(&model), raw_fields(&patched));
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        if b[0] != (7 << 3 | 2) {
            assert_eq!(b, a, "model fields other than the graph are untouched");
        }
    }
    let old = graph_of(&model);
    for (i, name) in [(1, "Transpose"), (3, "Relu")] {
        let (o, p) = (&old.nodes[i], &g.nodes[i]);
        assert_eq!(p.op_type, name);
        assert_eq!(old.fields[o.field].raw, g.fields[p.field].raw);
    }
    let dim0 = |g: &Graph<'_>| {
        let x = g.inputs[0].field;
        g.fields[x].raw.windows(10).any(|w| w == b"DATA_BATCH")
    };
    assert!(dim0(&g), "the dimension's denotation is kept");
    for number in [2, 10, 99] {
        let find = |g: &Graph<'_>| first(&g.fields, number).map(|f| f.raw.to_vec());
        assert_eq!(find(&old), find(&g), "graph field {number}");
    }
}

#[test]
fn a_graph_whose_batch_is_already_symbolic_is_refused() {
    let (patched, _) = make_batch_dynamic(&Tiny::default().encode()).unwrap();
    let err = make_batch_dynamic(&patched).unwrap_err().to_string();
    assert!(err.contains("not a fixed batch of 1"), "{err}");
}

#[test]
fn graphs_the_edit_cannot_vouch_for_are_refused() {
    let cases = [
        (
            Tiny {
                last_op: "Gather",
                ..Tiny::default()
            },
            "Gather node",
        ),
        (
            Tiny {
                perm: [1, 0, 2, 3],
                ..Tiny::default()
            },
            "moves dim 0",
        ),
        (
            Tiny {
                shape_shared: true,
                ..Tiny::default()
            },
            "also feeds input 1 of Add",
        ),
    ];
    for (tiny, expected) in cases {
        let err = make_batch_dynamic(&tiny.encode()).unwrap_err();
        assert!(matches!(err, PatchError::Unsupported(_)));
        assert!(err.to_string().contains(expected), "{err}");
    }
}

#[test]
fn a_truncated_model_is_a_wire_error() {
    let model = Tiny::default().encode();
    let err = make_batch_dynamic(&model[..model.len() / 2]).unwrap_err();
    assert!(matches!(err, PatchError::Wire(_)), "{err}");
}

#[test]
fn the_manifest_names_the_edit_in_kebab_case() {
    #[derive(serde::Deserialize)]
    struct Entry {
        edit: GraphEdit,
    }
    let entry: Entry = toml::from_str("edit = \"dynamic-batch\"").unwrap();
    assert_eq!(entry.edit, GraphEdit::DynamicBatch);
}
