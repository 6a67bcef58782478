//! Conversions shared by the bindings: error mapping, the one f32/f64
//! dispatch ([`with_dtype`]), and slices of NumPy arrays.

use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::exceptions::{PyKeyboardInterrupt, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

use crate::features::Features;
use crate::float::Float;
use crate::FnnError;

pyo3::import_exception!(fnn._errors, DivergedError);

/// The one mapping from core errors to Python exceptions.
pub fn to_py(err: FnnError) -> PyErr {
    match err {
        FnnError::Interrupted => PyKeyboardInterrupt::new_err("training interrupted"),
        FnnError::Diverged { .. } => DivergedError::new_err(err.to_string()),
        FnnError::Internal(_) => PyRuntimeError::new_err(err.to_string()),
        other => PyValueError::new_err(other.to_string()),
    }
}

/// The working dtype, read from the parameter buffer.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum DType {
    /// float32.
    F32,
    /// float64.
    F64,
}

/// Evaluates `$body` with the type name `$t` standing for the element type
/// of the 1-D array `$array`, `f64` or `f32` (anything else: a `TypeError`
/// naming `$what`): the binding's one dispatch on the dtype.
///
/// `with_dtype!(params, "params", T, net.init_params::<T>(..))` (the
/// arguments are expressions, so that rustfmt formats the body).
macro_rules! with_dtype {
    ($array:expr, $what:expr, $t:ident, $body:expr) => {
        match $crate::python::convert::dtype_of($array, $what)? {
            $crate::python::convert::DType::F64 => {
                type $t = f64;
                $body
            }
            $crate::python::convert::DType::F32 => {
                type $t = f32;
                $body
            }
        }
    };
}
pub(crate) use with_dtype;

/// float32 or float64, or a `TypeError` naming what was given.
pub fn dtype_of(array: &Bound<'_, PyAny>, what: &str) -> PyResult<DType> {
    if array.cast::<PyArray1<f64>>().is_ok() {
        Ok(DType::F64)
    } else if array.cast::<PyArray1<f32>>().is_ok() {
        Ok(DType::F32)
    } else {
        Err(PyTypeError::new_err(format!(
            "{what} must be a 1-D float32 or float64 NumPy array"
        )))
    }
}

/// A read-only view of a 1-D array of the working dtype.
pub fn readonly<'py, T: numpy::Element>(
    array: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<PyReadonlyArray1<'py, T>> {
    let typed = array.cast::<PyArray1<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a 1-D array of the parameters' dtype"
        ))
    })?;
    typed
        .try_readonly()
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

/// A writable view of a 1-D array of the working dtype.
pub fn readwrite<'py, T: numpy::Element>(
    array: &Bound<'py, PyAny>,
    what: &str,
) -> PyResult<PyReadwriteArray1<'py, T>> {
    let typed = array.cast::<PyArray1<T>>().map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a 1-D array of the parameters' dtype"
        ))
    })?;
    typed
        .try_readwrite()
        .map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

/// The contiguous data of a view, or a `ValueError`.
pub fn slice<'a, T: numpy::Element>(
    view: &'a PyReadonlyArray1<'_, T>,
    what: &str,
) -> PyResult<&'a [T]> {
    view.as_slice()
        .map_err(|_| PyValueError::new_err(format!("{what} must be C-contiguous")))
}

/// The contiguous data of a writable view, or a `ValueError`.
pub fn slice_mut<'a, T: numpy::Element>(
    view: &'a mut PyReadwriteArray1<'_, T>,
    what: &str,
) -> PyResult<&'a mut [T]> {
    view.as_slice_mut()
        .map_err(|_| PyValueError::new_err(format!("{what} must be C-contiguous and writable")))
}

/// Borrowed NumPy views of a feature matrix: a flat dense array, or a CSR
/// triple `(values, indices, indptr)` with int64 indices.
pub enum FeatureViews<'py, T: numpy::Element> {
    Dense(PyReadonlyArray1<'py, T>),
    Csr {
        values: PyReadonlyArray1<'py, T>,
        indices: PyReadonlyArray1<'py, i64>,
        indptr: PyReadonlyArray1<'py, i64>,
    },
}

impl<'py, T: numpy::Element + Float> FeatureViews<'py, T> {
    /// Reads `obj` as dense or CSR features.
    pub fn extract(obj: &Bound<'py, PyAny>, what: &str) -> PyResult<Self> {
        if let Ok((values, indices, indptr)) =
            obj.extract::<(Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>)>()
        {
            return Ok(FeatureViews::Csr {
                values: readonly::<T>(&values, what)?,
                indices: readonly::<i64>(&indices, what)?,
                indptr: readonly::<i64>(&indptr, what)?,
            });
        }
        Ok(FeatureViews::Dense(readonly::<T>(obj, what)?))
    }

    /// The core's view of the matrix.
    pub fn features(&self, what: &str) -> PyResult<Features<'_, T>> {
        Ok(match self {
            FeatureViews::Dense(x) => Features::Dense(slice(x, what)?),
            FeatureViews::Csr {
                values,
                indices,
                indptr,
            } => Features::Csr {
                indptr: slice(indptr, what)?,
                indices: slice(indices, what)?,
                values: slice(values, what)?,
            },
        })
    }
}
