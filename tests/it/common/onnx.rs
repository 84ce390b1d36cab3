//! A tiny ONNX writer for tests: targets models with known, hand-set outputs, written as
//! protobuf by hand (the onnx.proto3 field numbers are quoted beside each field), so tests of
//! the model path need neither Python nor the trained model.
//!
//! The graph has lathe's contract (`features`, `genre` in; `targets_low`, `targets`,
//! `targets_high`, `genre_probabilities` out; see `lathe::targets::model`):
//!
//! ```text
//! targets             = genre @ C  +  features @ S      (C: a centre row per genre)
//! targets_low/high    = targets -/+ half-width per output  (omitted for a point model)
//! genre_probabilities = softmax(features @ 0 + logits)  (a constant classifier)
//! ```
//!
//! `S` copies chosen inputs to chosen outputs, so a model can "follow the mix" (its centre is
//! the mix's own value plus an offset).

#![allow(dead_code)]

use lathe::targets::model::{band_centers_hz, output_names};

pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A length-delimited field (wire type 2).
pub fn put_bytes(out: &mut Vec<u8>, field: u64, payload: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// A varint field (wire type 0).
fn put_uint(out: &mut Vec<u8>, field: u64, v: u64) {
    put_varint(out, field << 3);
    put_varint(out, v);
}

/// TensorProto: dims = 1, data_type = 2 (FLOAT = 1), name = 8, raw_data = 9 (little endian).
fn tensor(name: &str, dims: &[usize], values: &[f32]) -> Vec<u8> {
    assert_eq!(dims.iter().product::<usize>(), values.len(), "{name}");
    let mut t = Vec::new();
    for &d in dims {
        put_uint(&mut t, 1, d as u64);
    }
    put_uint(&mut t, 2, 1);
    put_bytes(&mut t, 8, name.as_bytes());
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    put_bytes(&mut t, 9, &raw);
    t
}

/// ValueInfoProto (name = 1, type = 2) of a float `[N, width]` tensor: TypeProto.tensor_type
/// = 1 {elem_type = 1 (FLOAT), shape = 2 {dim = 1 {dim_param = 2 | dim_value = 1}}}.
fn value_info(name: &str, width: usize) -> Vec<u8> {
    let mut batch = Vec::new();
    put_bytes(&mut batch, 2, b"N");
    let mut cols = Vec::new();
    put_uint(&mut cols, 1, width as u64);
    let mut shape = Vec::new();
    put_bytes(&mut shape, 1, &batch);
    put_bytes(&mut shape, 1, &cols);
    let mut tensor_type = Vec::new();
    put_uint(&mut tensor_type, 1, 1);
    put_bytes(&mut tensor_type, 2, &shape);
    let mut ty = Vec::new();
    put_bytes(&mut ty, 1, &tensor_type);
    let mut v = Vec::new();
    put_bytes(&mut v, 1, name.as_bytes());
    put_bytes(&mut v, 2, &ty);
    v
}

/// NodeProto: input = 1, output = 2, name = 3, op_type = 4.
fn node(op: &str, inputs: &[&str], output: &str) -> Vec<u8> {
    let mut n = Vec::new();
    for i in inputs {
        put_bytes(&mut n, 1, i.as_bytes());
    }
    put_bytes(&mut n, 2, output.as_bytes());
    put_bytes(&mut n, 3, format!("{output}_node").as_bytes());
    put_bytes(&mut n, 4, op.as_bytes());
    n
}

/// What a test model predicts.
pub struct Spec {
    /// The inputs it reads (names from `lathe::targets::model::input_names`), in order.
    pub inputs: Vec<String>,
    /// Genre names, with `(minutes, tracks)` for the metadata.
    pub genres: Vec<(String, f64, usize)>,
    /// The centre of every output (in `output_names` order) for each genre.
    pub centre: Vec<Vec<f32>>,
    /// `(input index, output index)`: the output adds that input's value (follows the mix).
    pub follow: Vec<(usize, usize)>,
    /// Per output: how far the 10th and 90th percentiles lie below and above the centre.
    /// `None`: a point model (no `targets_low`/`targets_high`, no `lathe.quantiles`).
    pub half_width: Option<(Vec<f32>, Vec<f32>)>,
    /// The constant classifier's logits, one per genre.
    pub logits: Vec<f32>,
}

/// The ONNX bytes of `spec` (IR 8, opset 17, lathe's metadata).
pub fn model(spec: &Spec) -> Vec<u8> {
    let (f, g, o) = (spec.inputs.len(), spec.genres.len(), output_names().len());
    assert_eq!(spec.centre.len(), g);
    assert!(spec.centre.iter().all(|c| c.len() == o));
    assert_eq!(spec.logits.len(), g);
    let mut graph = Vec::new();
    let mut nodes = vec![
        node("MatMul", &["genre", "C"], "genre_centre"),
        node("MatMul", &["features", "S"], "followed"),
        node("Add", &["genre_centre", "followed"], "targets"),
        node("MatMul", &["features", "Z"], "zero_logits"),
        node("Add", &["zero_logits", "L"], "logits"),
        node("Softmax", &["logits"], "genre_probabilities"),
    ];
    let mut s = vec![0.0f32; f * o];
    for &(i, k) in &spec.follow {
        s[i * o + k] = 1.0;
    }
    let mut inits = vec![
        tensor("C", &[g, o], &spec.centre.concat()),
        tensor("S", &[f, o], &s),
        tensor("Z", &[f, g], &vec![0.0; f * g]),
        tensor("L", &[g], &spec.logits),
    ];
    let mut outputs = vec!["targets"];
    if let Some((below, above)) = &spec.half_width {
        assert!(below.len() == o && above.len() == o);
        nodes.push(node("Sub", &["targets", "DL"], "targets_low"));
        nodes.push(node("Add", &["targets", "DH"], "targets_high"));
        inits.push(tensor("DL", &[o], below));
        inits.push(tensor("DH", &[o], above));
        outputs = vec!["targets_low", "targets", "targets_high"];
    }
    // GraphProto: node = 1, name = 2, initializer = 5, input = 11, output = 12.
    for n in &nodes {
        put_bytes(&mut graph, 1, n);
    }
    put_bytes(&mut graph, 2, b"lathe_test_ranges");
    for t in &inits {
        put_bytes(&mut graph, 5, t);
    }
    put_bytes(&mut graph, 11, &value_info("features", f));
    put_bytes(&mut graph, 11, &value_info("genre", g));
    for name in outputs {
        put_bytes(&mut graph, 12, &value_info(name, o));
    }
    put_bytes(&mut graph, 12, &value_info("genre_probabilities", g));

    // ModelProto: ir_version = 1, producer_name = 2, graph = 7, opset_import = 8 {domain = 1,
    // version = 2}, metadata_props = 14 {key = 1, value = 2}.
    let mut m = Vec::new();
    put_uint(&mut m, 1, 8);
    put_bytes(&mut m, 2, b"lathe-tests");
    put_bytes(&mut m, 7, &graph);
    let mut opset = Vec::new();
    put_bytes(&mut opset, 1, b"");
    put_uint(&mut opset, 2, 17);
    put_bytes(&mut m, 8, &opset);
    let genres: Vec<String> = spec
        .genres
        .iter()
        .map(|(name, minutes, tracks)| {
            format!(r#"{{"name": "{name}", "minutes": {minutes}, "tracks": {tracks}}}"#)
        })
        .collect();
    let centres: Vec<String> = band_centers_hz()
        .iter()
        .map(|c| format!("{c:.4}"))
        .collect();
    let mut meta = vec![
        (
            "lathe.features_schema_version",
            lathe::analysis::FEATURES_SCHEMA_VERSION.to_string(),
        ),
        ("lathe.input_names", spec.inputs.join(",")),
        ("lathe.output_names", output_names().join(",")),
        ("lathe.genres", format!("[{}]", genres.join(", "))),
        ("lathe.band_centers_hz", centres.join(",")),
        (
            "lathe.description",
            "test model (tests/common/onnx.rs)".into(),
        ),
    ];
    if spec.half_width.is_some() {
        meta.push(("lathe.quantiles", "0.1,0.5,0.9".into()));
    }
    for (k, v) in meta {
        let mut entry = Vec::new();
        put_bytes(&mut entry, 1, k.as_bytes());
        put_bytes(&mut entry, 2, v.as_bytes());
        put_bytes(&mut m, 14, &entry);
    }
    m
}
