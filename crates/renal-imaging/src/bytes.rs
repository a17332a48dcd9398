//! Fixed-size reads from untrusted bytes without a panicking access: the parsers that deny
//! `clippy::indexing_slicing` read their words through these.

/// The first `N` bytes of `s` as an array (`None` when `s` is shorter).
pub(crate) fn arr<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    s.get(..N)?.try_into().ok()
}

/// The `N` bytes of `s` from offset `at` as an array (`None` past the end).
pub(crate) fn arr_at<const N: usize>(s: &[u8], at: usize) -> Option<[u8; N]> {
    arr(s.get(at..)?)
}

#[cfg(test)]
mod tests {
    use super::{arr, arr_at};

    #[test]
    fn arrays_inside_and_past_the_end() {
        let b = [1u8, 2, 3, 4, 5];
        assert_eq!(arr::<2>(&b), Some([1, 2]));
        assert_eq!(arr_at::<4>(&b, 1), Some([2, 3, 4, 5]));
        assert_eq!(arr_at::<4>(&b, 2), None);
        assert_eq!(arr_at::<1>(&b, 9), None);
        assert_eq!(arr::<6>(&b), None);
    }
}
