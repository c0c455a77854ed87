//! Checkpoints' checksum.

use wasm_bindgen::prelude::*;

/// CRC32C (the Castagnoli polynomial, as in iSCSI and ext4), by the `crc` crate.
static CRC32C: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISCSI);

/// CRC32C of `bytes`, continuing from `previous`, the CRC32C of the bytes before them (0 for
/// none): checkpoints' checksum, computed chunk by chunk so that no chunk needs much memory.
#[wasm_bindgen]
pub fn checksum_crc32c(previous: u32, bytes: &[u8]) -> u32 {
    // The digest's register is the reflected, not yet inverted, CRC: undo the final xor.
    let mut digest = CRC32C.digest_with_initial((previous ^ crc::CRC_32_ISCSI.xorout).reverse_bits());
    digest.update(bytes);
    digest.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_check_value_in_one_piece_and_in_chunks() {
        let data = b"123456789";
        assert_eq!(checksum_crc32c(0, data), 0xe306_9283);
        assert_eq!(checksum_crc32c(0, b""), 0);
        for cut in 0..=data.len() {
            assert_eq!(checksum_crc32c(checksum_crc32c(0, &data[..cut]), &data[cut..]), 0xe306_9283, "cut at {cut}");
        }
    }
}
