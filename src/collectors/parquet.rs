//! Metric samples on disk: Parquet in long format (`timestamp`, `metric`, one column per
//! label, `value`), read and written with polars in bounded batches. File I/O only.
//!
//! This is the layout of snapshot format 1 and of hand-made files; aiops now writes format 2
//! (`series_parquet`). Writing puts each metric in `metrics/<metric>.parquet`, rows grouped
//! by series and ordered by time. Reading accepts any such file: extra columns are labels,
//! `timestamp` may be a datetime of any unit or integer Unix milliseconds, rows may come in
//! any order.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use super::error::{CollectError, Result};
use crate::model::series::{Labels, MetricStore};

/// Rows per batch when reading and writing (bounds memory on large snapshots).
const BATCH_ROWS: usize = 1 << 20;
const RESERVED: [&str; 3] = ["timestamp", "metric", "value"];

fn label_column(name: &str) -> String {
    if RESERVED.contains(&name) { format!("label_{name}") } else { name.to_string() }
}

fn label_name(column: &str) -> &str {
    match column.strip_prefix("label_") {
        Some(n) if RESERVED.contains(&n) => n,
        _ => column,
    }
}

/// Writes every series of the store to `dir/<metric>.parquet`.
///
/// # Errors
/// A file cannot be created or written.
pub fn write_metrics(store: &MetricStore, dir: &Path) -> Result<()> {
    for metric in store.metric_names() {
        let path = dir.join(format!("{}.parquet", sanitize(metric)));
        write_metric(store, metric, &path)
            .map_err(|e| CollectError::Parquet { path: path.clone(), reason: e.to_string() })?;
    }
    Ok(())
}

fn sanitize(metric: &str) -> String {
    metric.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// The file name [`write_metrics`] gives a metric (format-1 snapshots).
pub fn file_name(metric: &str) -> String {
    format!("{}.parquet", sanitize(metric))
}

fn write_metric(store: &MetricStore, metric: &str, path: &Path) -> PolarsResult<()> {
    let mut label_names: Vec<&str> =
        store.metric(metric).flat_map(|s| s.labels.iter().map(|(k, _)| k)).collect();
    label_names.sort_unstable();
    label_names.dedup();
    let ts_type = DataType::Datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC));
    let mut fields =
        vec![Field::new("timestamp".into(), ts_type.clone()), Field::new("metric".into(), DataType::String)];
    for l in &label_names {
        fields.push(Field::new(label_column(l).into(), DataType::String));
    }
    fields.push(Field::new("value".into(), DataType::Float64));
    let schema = Schema::from_iter(fields);
    let file = File::create(path).map_err(|e| PolarsError::IO { error: Arc::new(e), msg: None })?;
    let mut writer = ParquetWriter::new(file)
        .with_compression(ParquetCompression::Zstd(None))
        .with_row_group_size(Some(BATCH_ROWS))
        .batched(&schema)?;

    let mut batch = Batch::new(label_names.len());
    for series in store.metric(metric) {
        let labels: Vec<Option<&str>> = label_names.iter().map(|l| series.labels.get(l)).collect();
        for (t, v) in series.timestamps.iter().zip(&series.values) {
            batch.ts.push(*t);
            batch.value.push(*v);
            for (col, l) in batch.labels.iter_mut().zip(&labels) {
                col.push(*l);
            }
            if batch.ts.len() >= BATCH_ROWS {
                writer.write_batch(&batch.take(metric, &label_names, &ts_type)?)?;
            }
        }
    }
    if !batch.ts.is_empty() {
        writer.write_batch(&batch.take(metric, &label_names, &ts_type)?)?;
    }
    writer.finish()?;
    Ok(())
}

struct Batch<'a> {
    ts: Vec<i64>,
    value: Vec<f64>,
    labels: Vec<Vec<Option<&'a str>>>,
}

impl<'a> Batch<'a> {
    fn new(n_labels: usize) -> Self {
        Batch { ts: Vec::new(), value: Vec::new(), labels: vec![Vec::new(); n_labels] }
    }

    fn take(&mut self, metric: &str, names: &[&str], ts_type: &DataType) -> PolarsResult<DataFrame> {
        let height = self.ts.len();
        let mut cols = Vec::with_capacity(names.len() + 3);
        cols.push(Column::new("timestamp".into(), std::mem::take(&mut self.ts)).cast(ts_type)?);
        cols.push(Column::new("metric".into(), vec![metric; height]));
        for (name, values) in names.iter().zip(self.labels.iter_mut()) {
            cols.push(Column::new(label_column(name).into(), std::mem::take(values)));
        }
        cols.push(Column::new("value".into(), std::mem::take(&mut self.value)));
        DataFrame::new(height, cols)
    }
}

/// Reads every sample of a Parquet file into the store.
///
/// # Errors
/// The file cannot be read, lacks `timestamp`/`metric`/`value`, or has a column of the
/// wrong type; the error names the file and the column.
pub fn read_metrics(path: &Path, store: &mut MetricStore) -> Result<()> {
    let err = |reason: String| CollectError::Parquet { path: path.to_path_buf(), reason };
    let open = || File::open(path).map_err(|source| CollectError::Io { path: path.to_path_buf(), source });
    let mut reader = ParquetReader::new(open()?);
    let total = reader.num_rows().map_err(|e| err(e.to_string()))?;
    let schema = reader.schema().map_err(|e| err(e.to_string()))?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    for required in RESERVED {
        if !names.iter().any(|n| n == required) {
            return Err(err(format!("missing column `{required}` (columns: {})", names.join(", "))));
        }
    }
    let label_cols: Vec<String> = names.iter().filter(|n| !RESERVED.contains(&n.as_str())).cloned().collect();

    let mut acc = Accumulator::default();
    let mut offset = 0usize;
    while offset < total {
        let len = BATCH_ROWS.min(total - offset);
        let df = ParquetReader::new(open()?)
            .with_slice(Some((offset, len)))
            .finish()
            .map_err(|e| err(e.to_string()))?;
        acc.add_frame(&df, &label_cols, store).map_err(err)?;
        offset += len;
    }
    acc.finish(store).map_err(|e| err(e.to_string()))
}

/// One series being read: open while rows may still arrive, closed (axis shared, memory
/// trimmed) once the file moved on to another series.
enum Slot {
    Open(Vec<i64>, Vec<f64>),
    Closed(Arc<[i64]>, Vec<f64>),
}

/// Collects rows into series. Files written by aiops hold each series contiguously, so a
/// series is closed as soon as the next one starts: its time axis is shared with identical
/// ones and its buffers trimmed, which keeps peak memory near the size of the values.
#[derive(Default)]
struct Accumulator {
    keys: Vec<(String, Labels)>,
    index: HashMap<(String, Labels), usize>,
    data: Vec<Slot>,
    current: Option<usize>,
    prev_metric: String,
    prev_labels: Vec<Option<String>>,
}

impl Accumulator {
    fn close(&mut self, slot: usize, store: &mut MetricStore) {
        let taken = std::mem::replace(&mut self.data[slot], Slot::Open(Vec::new(), Vec::new()));
        self.data[slot] = match taken {
            Slot::Open(ts, mut vs) if ts.windows(2).all(|w| w[0] < w[1]) => {
                vs.shrink_to_fit();
                Slot::Closed(store.intern_axis(ts), vs)
            }
            other => other,
        };
    }

    /// Makes the series of `(metric, labels)` the current one, closing the previous.
    fn switch_to(
        &mut self,
        m: &str,
        row_labels: &[Option<&str>],
        label_cols: &[String],
        store: &mut MetricStore,
    ) {
        let same = self.current.is_some()
            && self.prev_metric == m
            && self.prev_labels.iter().map(|x| x.as_deref()).eq(row_labels.iter().copied());
        if same {
            return;
        }
        if let Some(prev) = self.current {
            self.close(prev, store);
        }
        let l = Labels::new(
            label_cols
                .iter()
                .zip(row_labels)
                .filter_map(|(n, v)| v.map(|v| (label_name(n).to_string(), v.to_string()))),
        );
        let key = (m.to_string(), l);
        let slot = match self.index.get(&key) {
            Some(&i) => {
                // The series comes back (unordered input): reopen it.
                if let Slot::Closed(ts, vs) = &mut self.data[i] {
                    self.data[i] = Slot::Open(ts.to_vec(), std::mem::take(vs));
                }
                i
            }
            None => {
                let i = self.keys.len();
                self.keys.push(key.clone());
                self.index.insert(key, i);
                self.data.push(Slot::Open(Vec::new(), Vec::new()));
                i
            }
        };
        self.current = Some(slot);
        self.prev_metric.clear();
        self.prev_metric.push_str(m);
        self.prev_labels = row_labels.iter().map(|x| x.map(str::to_string)).collect();
    }

    fn add_frame(
        &mut self,
        df: &DataFrame,
        label_cols: &[String],
        store: &mut MetricStore,
    ) -> std::result::Result<(), String> {
        let col = |name: &str| df.column(name).map_err(|e| e.to_string());
        let (ts, ts_div) = timestamps(col("timestamp")?)?;
        let metric = col("metric")?.cast(&DataType::String).map_err(|e| format!("column `metric`: {e}"))?;
        let metric = metric.str().map_err(|e| format!("column `metric`: {e}"))?.rechunk().into_owned();
        let value = col("value")?.cast(&DataType::Float64).map_err(|e| format!("column `value`: {e}"))?;
        let value = value.f64().map_err(|e| format!("column `value`: {e}"))?.rechunk().into_owned();
        let mut labels: Vec<StringChunked> = Vec::with_capacity(label_cols.len());
        for name in label_cols {
            let c = col(name)?.cast(&DataType::String).map_err(|e| format!("column `{name}`: {e}"))?;
            labels.push(c.str().map_err(|e| format!("column `{name}`: {e}"))?.rechunk().into_owned());
        }
        let n = df.height();
        let mut row_labels: Vec<Option<&str>> = vec![None; label_cols.len()];
        let (ts_slice, value_slice) = (ts.cont_slice(), value.cont_slice());
        if let (Ok(ts_slice), Ok(value_slice), 0) = (ts_slice, value_slice, metric.null_count()) {
            // Fast path (no nulls): find where any label changes with vectorised comparisons,
            // then move whole runs of samples at once.
            let mut starts = vec![false; n];
            if let Some(first) = starts.first_mut() {
                *first = true;
            }
            for c in std::iter::once(&metric).chain(labels.iter()) {
                let shifted = c.shift(1);
                let ne = c.not_equal_missing(&shifted);
                for (i, b) in ne.iter().enumerate() {
                    if b == Some(true) {
                        starts[i] = true;
                    }
                }
            }
            let mut run_start = 0usize;
            for i in 1..=n {
                if i < n && !starts[i] {
                    continue;
                }
                let m = metric.get(run_start).unwrap_or_default();
                for (slot, c) in row_labels.iter_mut().zip(&labels) {
                    *slot = c.get(run_start);
                }
                self.switch_to(m, &row_labels, label_cols, store);
                if let Some(Slot::Open(tv, vv)) = self.current.map(|k| &mut self.data[k]) {
                    if ts_div == 1 {
                        tv.extend_from_slice(&ts_slice[run_start..i]);
                    } else {
                        tv.extend(ts_slice[run_start..i].iter().map(|t| t.div_euclid(ts_div)));
                    }
                    vv.extend_from_slice(&value_slice[run_start..i]);
                }
                run_start = i;
            }
            return Ok(());
        }
        // General path: row by row, skipping rows with a null timestamp, metric or value.
        let mut label_iters: Vec<_> = labels.iter().map(|c| c.iter()).collect();
        for ((t, m), v) in ts.iter().zip(metric.iter()).zip(value.iter()) {
            for (slot, it) in row_labels.iter_mut().zip(label_iters.iter_mut()) {
                *slot = it.next().flatten();
            }
            let (Some(t), Some(m), Some(v)) = (t, m, v) else { continue };
            self.switch_to(m, &row_labels, label_cols, store);
            if let Some(Slot::Open(tv, vv)) = self.current.map(|k| &mut self.data[k]) {
                tv.push(t.div_euclid(ts_div));
                vv.push(v);
            }
        }
        Ok(())
    }

    fn finish(self, store: &mut MetricStore) -> std::result::Result<(), crate::model::series::SeriesError> {
        for ((metric, labels), slot) in self.keys.into_iter().zip(self.data) {
            match slot {
                Slot::Closed(ts, vs) => store.push_shared(metric, labels, ts, vs)?,
                Slot::Open(ts, vs) => {
                    let (ts, vs) = if ts.windows(2).all(|w| w[0] < w[1]) {
                        (ts, vs)
                    } else {
                        // Unordered input: sort by time; of equal timestamps the last row wins.
                        let mut pairs: Vec<(i64, f64)> = ts.into_iter().zip(vs).collect();
                        pairs.sort_by_key(|p| p.0);
                        let mut out: Vec<(i64, f64)> = Vec::with_capacity(pairs.len());
                        for p in pairs {
                            match out.last_mut() {
                                Some(last) if last.0 == p.0 => *last = p,
                                _ => out.push(p),
                            }
                        }
                        out.into_iter().unzip()
                    };
                    store.push(metric, labels, ts, vs)?;
                }
            }
        }
        Ok(())
    }
}

/// The `timestamp` column as integers and the divisor that turns them into Unix ms.
fn timestamps(col: &Column) -> std::result::Result<(Int64Chunked, i64), String> {
    let div: i64 = match col.dtype() {
        DataType::Datetime(TimeUnit::Milliseconds, _) => 1,
        DataType::Datetime(TimeUnit::Microseconds, _) => 1_000,
        DataType::Datetime(TimeUnit::Nanoseconds, _) => 1_000_000,
        d if d.is_integer() => 1,
        other => {
            return Err(format!(
                "column `timestamp` has type {other}, expected a datetime or integer Unix milliseconds"
            ));
        }
    };
    let ints = col.cast(&DataType::Int64).map_err(|e| format!("column `timestamp`: {e}"))?;
    let ints = ints.i64().map_err(|e| format!("column `timestamp`: {e}"))?.rechunk().into_owned();
    Ok((ints, div))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_every_sample_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = MetricStore::new();
        store
            .push(
                "m",
                Labels::new([("pod", "a"), ("namespace", "n")]),
                vec![1000, 2000, 3000],
                vec![0.1, f64::NAN, 3.5],
            )
            .unwrap();
        store
            .push("m", Labels::new([("pod", "b"), ("value", "x")]), vec![1000, 2000], vec![1e-300, -2.0])
            .unwrap();
        store.push("other", Labels::new([("le", "+Inf")]), vec![5], vec![f64::INFINITY]).unwrap();
        write_metrics(&store, dir.path()).unwrap();
        let mut back = MetricStore::new();
        for f in ["m.parquet", "other.parquet"] {
            read_metrics(&dir.path().join(f), &mut back).unwrap();
        }
        assert_eq!(back.len(), 3);
        for (a, b) in store.all().iter().zip(back.all()) {
            assert_eq!(a.metric, b.metric);
            assert_eq!(a.labels, b.labels);
            assert_eq!(a.timestamps, b.timestamps);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a.values), bits(&b.values));
        }
    }

    #[test]
    fn hand_made_file_in_any_order_with_integer_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        let mut df = DataFrame::new(
            4,
            vec![
                Column::new("timestamp".into(), vec![3000i64, 1000, 2000, 2000]),
                Column::new("metric".into(), vec!["m"; 4]),
                Column::new("pod".into(), vec![Some("a"), Some("a"), Some("a"), None]),
                Column::new("value".into(), vec![3.0f64, 1.0, 2.0, 9.0]),
            ],
        )
        .unwrap();
        ParquetWriter::new(File::create(&path).unwrap()).finish(&mut df).unwrap();
        let mut store = MetricStore::new();
        read_metrics(&path, &mut store).unwrap();
        assert_eq!(store.len(), 2);
        let a = store.select("m", &[("pod", "a")]).next().unwrap();
        assert_eq!(&a.timestamps[..], &[1000, 2000, 3000]);
        assert_eq!(a.values, vec![1.0, 2.0, 3.0]);
    }

    #[test]
    fn rows_with_a_null_timestamp_or_value_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        let mut df = DataFrame::new(
            4,
            vec![
                Column::new("timestamp".into(), vec![Some(1000i64), None, Some(3000), Some(4000)]),
                Column::new("metric".into(), vec!["m"; 4]),
                Column::new("pod".into(), vec!["a"; 4]),
                Column::new("value".into(), vec![Some(1.0f64), Some(2.0), None, Some(4.0)]),
            ],
        )
        .unwrap();
        ParquetWriter::new(File::create(&path).unwrap()).finish(&mut df).unwrap();
        let mut store = MetricStore::new();
        read_metrics(&path, &mut store).unwrap();
        let a = store.select("m", &[("pod", "a")]).next().unwrap();
        assert_eq!((&a.timestamps[..], &a.values[..]), (&[1000, 4000][..], &[1.0, 4.0][..]));
    }

    #[test]
    fn a_series_that_comes_back_later_is_merged() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        let mut df = DataFrame::new(
            5,
            vec![
                Column::new("timestamp".into(), vec![1000i64, 2000, 1000, 3000, 2000]),
                Column::new("metric".into(), vec!["m"; 5]),
                Column::new("pod".into(), vec!["a", "a", "b", "a", "b"]),
                Column::new("value".into(), vec![1.0f64, 2.0, 10.0, 3.0, 20.0]),
            ],
        )
        .unwrap();
        ParquetWriter::new(File::create(&path).unwrap()).finish(&mut df).unwrap();
        let mut store = MetricStore::new();
        read_metrics(&path, &mut store).unwrap();
        assert_eq!(store.len(), 2);
        let a = store.select("m", &[("pod", "a")]).next().unwrap();
        assert_eq!((&a.timestamps[..], &a.values[..]), (&[1000, 2000, 3000][..], &[1.0, 2.0, 3.0][..]));
        let b = store.select("m", &[("pod", "b")]).next().unwrap();
        assert_eq!(&b.values[..], &[10.0, 20.0]);
    }

    #[test]
    fn missing_column_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.parquet");
        let mut df = DataFrame::new(
            1,
            vec![Column::new("timestamp".into(), vec![1i64]), Column::new("metric".into(), vec!["m"])],
        )
        .unwrap();
        ParquetWriter::new(File::create(&path).unwrap()).finish(&mut df).unwrap();
        let err = read_metrics(&path, &mut MetricStore::new()).unwrap_err().to_string();
        assert!(err.contains("bad.parquet") && err.contains("missing column `value`"), "{err}");
        std::fs::write(&path, b"not parquet").unwrap();
        let err = read_metrics(&path, &mut MetricStore::new()).unwrap_err().to_string();
        assert!(err.contains("bad.parquet"), "{err}");
    }
}
