//! Reading a 2-D float64 `.npy` array (numpy's format 1.0-3.0, C order): the action files that
//! `metarl envs rollout --actions` accepts from Python users.

use anyhow::{bail, ensure, Context, Result};

/// Rows of a little-endian float64 C-order 2-D array.
pub fn read_f64_rows(bytes: &[u8]) -> Result<Vec<Vec<f64>>> {
    ensure!(bytes.len() >= 10 && &bytes[..6] == b"\x93NUMPY", "not a .npy file (no \\x93NUMPY magic)");
    let (header_len, header_start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            ensure!(bytes.len() >= 12, "truncated .npy header");
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => bail!(".npy format version {v} is not supported"),
    };
    let data_start = header_start + header_len;
    ensure!(bytes.len() >= data_start, "truncated .npy header");
    let header = std::str::from_utf8(&bytes[header_start..data_start]).context(".npy header is not text")?;
    ensure!(header.contains("'descr': '<f8'"), "the array must be float64 (descr '<f8'); header: {}", header.trim());
    ensure!(header.contains("'fortran_order': False"), "the array must be C-ordered; header: {}", header.trim());
    let shape_text = header.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).context("no shape in the .npy header")?;
    let shape: Vec<usize> = shape_text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse).collect::<Result<_, _>>()
        .with_context(|| format!("bad shape ({shape_text})"))?;
    let [rows, cols] = shape[..] else { bail!("actions must be a 2-D array (steps × action dim), got shape {shape:?}") };
    let data = &bytes[data_start..];
    ensure!(data.len() == rows * cols * 8, "the .npy data holds {} bytes, shape {rows}×{cols} needs {}", data.len(), rows * cols * 8);
    let values: Vec<f64> = data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
    Ok(values.chunks(cols.max(1)).map(<[f64]>::to_vec).collect())
}

#[cfg(test)]
mod tests {
    use super::read_f64_rows;

    fn npy(header: &str, values: &[f64]) -> Vec<u8> {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend((header.len() as u16).to_le_bytes());
        bytes.extend(header.as_bytes());
        values.iter().for_each(|v| bytes.extend(v.to_le_bytes()));
        bytes
    }

    #[test]
    fn reads_rows_and_rejects_other_layouts() {
        let ok = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }\n", &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(read_f64_rows(&ok).unwrap(), vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0, 6.0]]);
        let f32s = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", &[1.0]);
        assert!(read_f64_rows(&f32s).unwrap_err().to_string().contains("float64"));
        let flat = npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n", &[1.0, 2.0]);
        assert!(read_f64_rows(&flat).unwrap_err().to_string().contains("2-D"));
    }
}
