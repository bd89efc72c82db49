//! numpy's `.npy` format (1.0-3.0, C order): reading the action files that `metarl envs rollout
//! --actions` accepts from Python users, and reading and writing the arrays of FOCAL's offline
//! datasets (`protocol::offline::npz`).

use anyhow::{bail, ensure, Context, Result};

/// An array read from a `.npy` file: its shape and its values in C order.
#[derive(Debug)]
pub struct Array {
    pub shape: Vec<usize>,
    /// `'<f4'` or `'<f8'`, as the header names it.
    pub descr: &'static str,
    pub values: Vec<f64>,
}

/// A little-endian float32 or float64 C-order array of any rank.
pub fn read_array(bytes: &[u8]) -> Result<Array> {
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
    let (descr, width) = if header.contains("'descr': '<f8'") {
        ("<f8", 8)
    } else if header.contains("'descr': '<f4'") {
        ("<f4", 4)
    } else {
        bail!("the array must be little-endian float32 or float64 (descr '<f4' or '<f8'); header: {}", header.trim())
    };
    ensure!(header.contains("'fortran_order': False"), "the array must be C-ordered; header: {}", header.trim());
    let shape_text = header.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).context("no shape in the .npy header")?;
    let shape: Vec<usize> = shape_text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse).collect::<Result<_, _>>()
        .with_context(|| format!("bad shape ({shape_text})"))?;
    let count: usize = shape.iter().product();
    let data = &bytes[data_start..];
    ensure!(data.len() == count * width, "the .npy data holds {} bytes, shape {shape:?} of {descr} needs {}", data.len(), count * width);
    let values = match width {
        8 => data.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes"))).collect(),
        _ => data.chunks_exact(4).map(|c| f64::from(f32::from_le_bytes(c.try_into().expect("4 bytes")))).collect(),
    };
    Ok(Array { shape, descr, values })
}

/// Rows of a little-endian float64 C-order 2-D array.
pub fn read_f64_rows(bytes: &[u8]) -> Result<Vec<Vec<f64>>> {
    let array = read_array(bytes)?;
    ensure!(array.descr == "<f8", "the array must be float64 (descr '<f8'), not {}", array.descr);
    let [_, cols] = array.shape[..] else { bail!("actions must be a 2-D array (steps × action dim), got shape {:?}", array.shape) };
    Ok(array.values.chunks(cols.max(1)).map(<[f64]>::to_vec).collect())
}

/// A float32 C-order array as NPY format 1.0 bytes (header padded to a multiple of 64).
pub fn write_f32(shape: &[usize], values: &[f32]) -> Vec<u8> {
    assert_eq!(shape.iter().product::<usize>(), values.len(), "shape {shape:?} does not hold {} values", values.len());
    let dims: String = shape.iter().map(|d| format!("{d}, ")).collect();
    let dims = if shape.len() == 1 { dims.trim_end().to_owned() } else { dims.trim_end_matches(", ").to_owned() };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({dims}), }}");
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((header.len() as u16).to_le_bytes());
    bytes.extend(header.as_bytes());
    values.iter().for_each(|v| bytes.extend(v.to_le_bytes()));
    bytes
}

#[cfg(test)]
mod tests {
    use super::{read_array, read_f64_rows, write_f32};

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

    #[test]
    fn written_float32_arrays_read_back_with_their_shape() {
        for shape in [vec![3], vec![2, 3], vec![0, 4]] {
            let values: Vec<f32> = (0..shape.iter().product::<usize>()).map(|i| i as f32 * 0.5).collect();
            let bytes = write_f32(&shape, &values);
            assert_eq!((bytes.len() - values.len() * 4) % 64, 0, "header padded to 64 bytes");
            let array = read_array(&bytes).unwrap();
            assert_eq!((array.shape, array.descr), (shape, "<f4"));
            assert_eq!(array.values, values.iter().map(|&v| f64::from(v)).collect::<Vec<_>>());
        }
        let bytes = write_f32(&[2, 2], &[1.0; 4]);
        assert!(read_array(&bytes[..bytes.len() - 1]).unwrap_err().to_string().contains("needs 16"));
    }
}
