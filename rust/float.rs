//! The element types the core is generic over: `f32` and `f64`.

use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{AddAssign, MulAssign, SubAssign};

mod sealed {
    /// Implemented for `f32` and `f64` only, and not nameable outside this
    /// module: no other type can implement [`super::Float`].
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A float the engine can train in: `f32` or `f64`, and nothing else.
///
/// The trait is sealed, so the kernels that reinterpret a `&[T]` as `&[f32]`
/// or `&[f64]` after checking `size_of::<T>()` (`small_matmul`, `vmath`) are
/// sound: a 4-byte `Float` is `f32` and an 8-byte one is `f64`.
pub trait Float:
    sealed::Sealed
    + num_traits::Float
    + AddAssign
    + SubAssign
    + MulAssign
    + Sum
    + Debug
    + Default
    + Send
    + Sync
    + 'static
{
    /// Rounds an `f64` to this type.
    fn of(x: f64) -> Self;
    /// Widens to `f64`.
    fn f64(self) -> f64;
}

impl Float for f32 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
}
