//! TensorBoard event files: `tb/events.out.tfevents.<seconds>.<host>` in a run folder, one scalar
//! per progress.csv column per iteration, written as the run goes, so that TensorBoard (or W&B
//! syncing the folder) shows a run live.
//!
//! The format is TensorFlow's: TFRecord framing (the record's length as u64, the masked CRC-32C
//! of those 8 bytes, the record, its masked CRC-32C; `tensorflow/core/lib/io/record_writer.cc`)
//! around `Event` protocol buffers (`tensorflow/core/util/event.proto`: wall_time 1, step 2,
//! file_version 3, summary 5; `summary.proto`: Summary.value 1, Value.tag 1, Value.simple_value
//! 2). The few fields are encoded here by hand: the crates that write event files bring a protobuf
//! code generator and more than this needs.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

/// An event file being appended to; each record is flushed as it is written.
pub struct EventWriter {
    path: PathBuf,
    file: File,
}

impl EventWriter {
    /// A new event file in `dir` (created if needed), opened with its `file_version` record.
    pub fn create(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let host = crate::campaign::lock::host();
        let path = dir.join(format!("events.out.tfevents.{}.{host}", now().floor() as u64));
        let file = OpenOptions::new().create(true).append(true).open(&path).with_context(|| format!("cannot write {}", path.display()))?;
        let mut writer = EventWriter { path, file };
        let mut event = Vec::new();
        double_field(&mut event, 1, now());
        bytes_field(&mut event, 3, b"brain.Event:2");
        writer.record(&event)?;
        Ok(writer)
    }

    /// One `Event` at `step` with a `simple_value` per (tag, value).
    pub fn scalars(&mut self, step: i64, values: &[(&str, f32)]) -> Result<()> {
        let mut summary = Vec::new();
        for (tag, value) in values {
            let mut entry = Vec::new();
            bytes_field(&mut entry, 1, tag.as_bytes());
            key(&mut entry, 2, 5);
            entry.extend_from_slice(&value.to_le_bytes());
            bytes_field(&mut summary, 1, &entry);
        }
        let mut event = Vec::new();
        double_field(&mut event, 1, now());
        key(&mut event, 2, 0);
        varint(&mut event, step as u64);
        bytes_field(&mut event, 5, &summary);
        self.record(&event)
    }

    fn record(&mut self, data: &[u8]) -> Result<()> {
        let length = (data.len() as u64).to_le_bytes();
        let mut framed = Vec::with_capacity(data.len() + 16);
        framed.extend_from_slice(&length);
        framed.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
        framed.extend_from_slice(data);
        framed.extend_from_slice(&masked_crc32c(data).to_le_bytes());
        self.file.write_all(&framed).with_context(|| format!("cannot append to {}", self.path.display()))?;
        self.file.flush()?;
        Ok(())
    }
}

fn now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or_default()
}

/// A protobuf field key: field number and wire type (0 varint, 1 fixed64, 2 length-delimited,
/// 5 fixed32).
fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    varint(out, u64::from(field) << 3 | u64::from(wire_type));
}

fn varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn double_field(out: &mut Vec<u8>, field: u32, value: f64) {
    key(out, field, 1);
    out.extend_from_slice(&value.to_le_bytes());
}

fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    key(out, field, 2);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), bit by bit: event records are small.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0x82F6_3B78 } else { crc >> 1 };
        }
    }
    !crc
}

/// TFRecord's masking of a CRC: rotated right by 15 bits plus a constant.
fn masked_crc32c(data: &[u8]) -> u32 {
    crc32c(data).rotate_right(15).wrapping_add(0xA282_EAD8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_values() {
        // RFC 3720 B.4 and the CRC catalogue's check value for "123456789".
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
    }

    #[test]
    fn varints_and_keys_encode_as_protobuf_does() {
        let mut out = Vec::new();
        varint(&mut out, 300);
        assert_eq!(out, [0xAC, 0x02]);
        out.clear();
        key(&mut out, 5, 2);
        assert_eq!(out, [0x2A]);
    }
}
