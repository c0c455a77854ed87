//! The one error type of the core. Every failing call leaves optimizer and tensors unchanged.

use core::fmt;

/// What went wrong; `code()` is a stable identifier the bindings expose to JavaScript.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// A tensor handle that does not exist (never did, or was disposed).
    UnknownTensor { id: u64 },
    /// Values whose length does not match the shape.
    ShapeMismatch { what: String, expected: Vec<usize>, got: Vec<usize> },
    /// A gradient whose element count differs from its variable's.
    GradientShape { variable: String, expected: usize, got: usize },
    /// A sparse row index outside `[0, rows)`.
    IndexOutOfRange { variable: String, index: i64, offset: usize, rows: usize },
    /// A sparse gradient whose variable is a scalar (no rows).
    SparseScalar { variable: String },
    /// The same variable twice in one `apply_gradients` call.
    DuplicateVariable { variable: String },
    /// A hyperparameter value Keras would refuse (or that is not finite); `reason` is the message.
    InvalidHyperparameter { name: String, value: f64, reason: String },
    /// An unknown hyperparameter name.
    UnknownHyperparameter { name: String },
    /// `set_weights` with the wrong number of weights.
    WeightCount { optimizer: String, expected: usize, got: usize },
    /// `set_weights` with a weight of the wrong size.
    WeightShape { index: usize, expected: usize, got: usize },
    /// An unknown slot name or a variable without slots.
    UnknownSlot { variable: String, slot: String },
    /// A call the optimizer cannot serve in its state (e.g. constraint on a sparse update).
    InvalidState { message: String },
    /// A slot storage (`slotDtype`) the optimizer's class does not support; `supported` names
    /// the classes that do.
    UnsupportedSlotDtype { optimizer: String, class_name: String, dtype: String, supported: Vec<String> },
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::UnknownTensor { .. } => "UnknownTensor",
            Error::ShapeMismatch { .. } => "ShapeMismatch",
            Error::GradientShape { .. } => "GradientShape",
            Error::IndexOutOfRange { .. } => "IndexOutOfRange",
            Error::SparseScalar { .. } => "SparseScalar",
            Error::DuplicateVariable { .. } => "DuplicateVariable",
            Error::InvalidHyperparameter { .. } => "InvalidHyperparameter",
            Error::UnknownHyperparameter { .. } => "UnknownHyperparameter",
            Error::WeightCount { .. } => "WeightCount",
            Error::WeightShape { .. } => "WeightShape",
            Error::UnknownSlot { .. } => "UnknownSlot",
            Error::InvalidState { .. } => "InvalidState",
            Error::UnsupportedSlotDtype { .. } => "UnsupportedSlotDtype",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnknownTensor { id } => write!(
                f,
                "tensor {} (slot {}, generation {}) does not exist: it was disposed or belongs to another store",
                id,
                *id as u32,
                id >> 32
            ),
            Error::ShapeMismatch { what, expected, got } => {
                write!(f, "{what}: expected shape {expected:?}, got {got:?}")
            }
            Error::GradientShape { variable, expected, got } => write!(
                f,
                "gradient for variable '{variable}' has {got} elements, but the variable has {expected}"
            ),
            Error::IndexOutOfRange { variable, index, offset, rows } => write!(
                f,
                "Index {index} at offset {offset} in indices is out of range: variable '{variable}' has {rows} rows"
            ),
            Error::SparseScalar { variable } => {
                write!(f, "variable '{variable}' is a scalar: a sparse (IndexedSlices) gradient needs rows")
            }
            Error::DuplicateVariable { variable } => {
                write!(f, "variable '{variable}' appears more than once in one apply_gradients call")
            }
            // The reason is a whole sentence (Keras' own text where Keras has one).
            Error::InvalidHyperparameter { reason, .. } => f.write_str(reason),
            Error::UnknownHyperparameter { name } => write!(f, "unknown hyperparameter `{name}`"),
            Error::WeightCount { optimizer, expected, got } => write!(
                f,
                "You called `set_weights(weights)` on optimizer {optimizer} with a weight list of length {got}, but the optimizer was expecting {expected} weights"
            ),
            Error::WeightShape { index, expected, got } => write!(
                f,
                "Optimizer weight {index} has {expected} elements, not compatible with provided weight of {got} elements"
            ),
            Error::UnknownSlot { variable, slot } => {
                write!(f, "no slot '{slot}' for variable '{variable}'")
            }
            Error::InvalidState { message } => f.write_str(message),
            Error::UnsupportedSlotDtype { optimizer, class_name, dtype, supported } => write!(
                f,
                "optimizer '{optimizer}' ({class_name}) cannot keep its slots as {dtype}: slotDtype '{dtype}' is supported by {}",
                supported.join(", ")
            ),
        }
    }
}

impl std::error::Error for Error {}

pub type Result<T> = core::result::Result<T, Error>;
