//! The ONNX Runtime environment: loading the library at run time, the execution provider, and threading.
//!
//! All sessions share one global intra-op thread pool: with a pool per session, two models on two cores spin-wait
//! against each other (measured: end-to-end throughput fell from 17.6 to 10.8 images/s). A requested GPU provider
//! that fails to register is an error, never a silent fall-back to the CPU.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ort::environment::{Environment, GlobalThreadPoolOptions};
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ExecutionProvider {
    Cpu,
    Cuda { device_id: i32 },
    TensorRt { device_id: i32 },
}

impl std::fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda { device_id } => write!(f, "cuda:{device_id}"),
            Self::TensorRt { device_id } => write!(f, "tensorrt:{device_id}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Path of `libonnxruntime.so`.
    pub library: PathBuf,
    pub provider: ExecutionProvider,
    /// Threads of the shared intra-op pool (0 = one per core).
    pub intra_threads: usize,
    /// Let idle pool threads spin; faster on an otherwise idle machine, harmful when cores are shared.
    pub spin: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("can not load ONNX Runtime from {path}: {message}")]
    Library { path: PathBuf, message: String },
    #[error("ONNX Runtime was already initialised from {first}; can not switch to {requested}")]
    AlreadyInitialised { first: PathBuf, requested: PathBuf },
    #[error("execution provider {provider}: {message}")]
    Provider {
        provider: ExecutionProvider,
        message: String,
    },
    #[error("model {path}: {message}")]
    Session { path: PathBuf, message: String },
    #[error("ONNX Runtime: {0}")]
    Ort(String),
}

/// The process-wide ONNX Runtime environment. ONNX Runtime can be loaded only once per process, so every caller
/// asking for the same library shares one environment.
#[derive(Clone)]
pub struct Runtime {
    env: Environment,
    config: RuntimeConfig,
}

static LOADED: OnceLock<Mutex<Option<Runtime>>> = OnceLock::new();

impl Runtime {
    pub fn init(config: RuntimeConfig) -> Result<Runtime, RuntimeError> {
        let mut loaded = LOADED
            .get_or_init(|| Mutex::new(None))
            .lock()
            .expect("runtime lock poisoned");
        if let Some(existing) = loaded.as_ref() {
            if existing.config.library != config.library {
                return Err(RuntimeError::AlreadyInitialised {
                    first: existing.config.library.clone(),
                    requested: config.library,
                });
            }
            return Ok(Runtime {
                env: existing.env.clone(),
                config,
            });
        }
        check_provider_compiled(config.provider)?;
        check_provider_library(&config)?;
        let builder = ort::init_from(&config.library).map_err(|e| RuntimeError::Library {
            path: config.library.clone(),
            message: e.to_string(),
        })?;
        let threads = if config.intra_threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            config.intra_threads
        };
        let pool = GlobalThreadPoolOptions::default()
            .with_intra_threads(threads)
            .and_then(|p| p.with_inter_threads(1))
            .and_then(|p| p.with_spin_control(config.spin))
            .map_err(ort_error)?;
        let env = builder
            .with_name("faceserve")
            .with_telemetry(false)
            .with_global_thread_pool(pool)
            .build()
            .map_err(ort_error)?;
        let runtime = Runtime { env, config };
        *loaded = Some(runtime.clone());
        Ok(runtime)
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// Opens a model file as a session on the configured execution provider.
    pub fn load_session(&self, model: &Path) -> Result<Session, RuntimeError> {
        let session_error = |e: ort::Error| RuntimeError::Session {
            path: model.to_path_buf(),
            message: e.to_string(),
        };
        let provider_error = |e: ort::Error| RuntimeError::Provider {
            provider: self.config.provider,
            message: e.to_string(),
        };
        let mut builder = Session::builder(&self.env)
            .map_err(session_error)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(|e| session_error(e.into()))?;
        if let Some(ep) = provider_dispatch(self.config.provider) {
            builder = builder
                .with_execution_providers([ep.error_on_failure()])
                .map_err(|e| provider_error(e.into()))?;
        }
        builder.commit_from_file(model).map_err(session_error)
    }
}

fn ort_error<E: Into<ort::Error>>(e: E) -> RuntimeError {
    RuntimeError::Ort(e.into().to_string())
}

fn check_provider_compiled(provider: ExecutionProvider) -> Result<(), RuntimeError> {
    let missing = |feature: &str| RuntimeError::Provider {
        provider,
        message: format!(
            "this faceserve binary was built without GPU support; rebuild it with `--features {feature}`"
        ),
    };
    match provider {
        ExecutionProvider::Cpu => Ok(()),
        ExecutionProvider::Cuda { .. } if !cfg!(feature = "cuda") => Err(missing("cuda")),
        ExecutionProvider::TensorRt { .. } if !cfg!(feature = "tensorrt") => {
            Err(missing("tensorrt"))
        }
        _ => Ok(()),
    }
}

/// GPU providers are separate libraries next to `libonnxruntime.so`; the CPU wheel has none. Saying which file is
/// missing beats ONNX Runtime's dlopen message.
fn check_provider_library(config: &RuntimeConfig) -> Result<(), RuntimeError> {
    let needed: &[&str] = match config.provider {
        ExecutionProvider::Cpu => return Ok(()),
        ExecutionProvider::Cuda { .. } => &["libonnxruntime_providers_cuda.so"],
        ExecutionProvider::TensorRt { .. } => &[
            "libonnxruntime_providers_cuda.so",
            "libonnxruntime_providers_tensorrt.so",
        ],
    };
    let dir = config.library.parent().unwrap_or(Path::new("."));
    match needed.iter().find(|file| !dir.join(file).is_file()) {
        None => Ok(()),
        Some(missing) => Err(RuntimeError::Provider {
            provider: config.provider,
            message: format!(
                "{missing} is not next to {}: the CPU build of ONNX Runtime has no GPU providers; use the libraries \
                 of the PyPI wheel onnxruntime-gpu==1.31.1 (with CUDA 13 and, for TensorRT, TensorRT 10 installed) \
                 and point --ort-library at its libonnxruntime.so.1.31.1",
                dir.display()
            ),
        }),
    }
}

fn provider_dispatch(provider: ExecutionProvider) -> Option<ort::ep::ExecutionProviderDispatch> {
    match provider {
        ExecutionProvider::Cpu => None,
        #[cfg(feature = "cuda")]
        ExecutionProvider::Cuda { device_id } => {
            Some(ort::ep::CUDA::default().with_device_id(device_id).build())
        }
        #[cfg(feature = "tensorrt")]
        ExecutionProvider::TensorRt { device_id } => Some(
            ort::ep::TensorRT::default()
                .with_device_id(device_id)
                .build(),
        ),
        #[allow(unreachable_patterns)]
        _ => unreachable!("check_provider_compiled refuses providers this build lacks"),
    }
}
