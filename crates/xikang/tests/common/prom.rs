//! A strict reader of the Prometheus text exposition format (version 0.0.4), for the tests:
//! it refuses what Prometheus would refuse and some things it would only tolerate (a sample
//! without a `# TYPE`, a family split in two, a histogram whose buckets go down or whose
//! `+Inf` bucket is not its `_count`), so a test that scrapes `/metrics` fails on a broken
//! exposition rather than skipping it.

use std::collections::{BTreeMap, HashMap, HashSet};

/// A sample's name and labels (sorted).
pub type Series = (String, BTreeMap<String, String>);

/// Every sample of a scrape, by series.
#[derive(Debug, Default)]
pub struct Scrape {
    pub samples: BTreeMap<Series, f64>,
    pub types: HashMap<String, String>,
}

impl Scrape {
    /// The value of `name` with exactly these labels.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples.get(&(name.to_owned(), labels)).copied()
    }

    /// The sum of every sample of `name` whose labels include these.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|((n, l), _)| {
                n == name
                    && labels
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, v)| v)
            .sum()
    }
}

fn valid_name(s: &str, colon: bool) -> bool {
    let mut chars = s.chars();
    let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':');
    chars.next().is_some_and(ok_first)
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
}

fn value(s: &str) -> Result<f64, String> {
    match s {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => s.parse::<f64>().map_err(|_| format!("bad value {s:?}")),
    }
}

/// Parses the labels after `{`, returning them and the rest of the line after `}`.
fn labels(mut s: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut out = BTreeMap::new();
    loop {
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((out, rest));
        }
        let eq = s.find('=').ok_or("label without =")?;
        let name = &s[..eq];
        if !valid_name(name, false) {
            return Err(format!("bad label name {name:?}"));
        }
        s = s[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut v = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => v.push('\\'),
                    Some((_, '"')) => v.push('"'),
                    Some((_, 'n')) => v.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, '\n')) | None => return Err("unterminated label value".into()),
                Some((_, c)) => v.push(c),
            }
        };
        if out.insert(name.to_owned(), v).is_some() {
            return Err(format!("label {name} twice"));
        }
        s = &s[end + 1..];
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err("labels not separated by ,".into());
        }
    }
}

/// The family a sample belongs to, given the declared types.
fn family_of<'a>(name: &'a str, types: &HashMap<String, String>) -> &'a str {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).is_some_and(|t| t == "histogram")
        {
            return base;
        }
    }
    name
}

/// Parses a whole exposition strictly.
pub fn parse(text: &str) -> Result<Scrape, String> {
    if !text.ends_with('\n') {
        return Err("the exposition does not end with a newline".into());
    }
    let mut scrape = Scrape::default();
    let mut helped = HashSet::new();
    let mut done: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}: {line:?}", n + 1);
        if line.is_empty() {
            return Err(at("empty line".into()));
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (kw, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let arg = parts.next().unwrap_or("");
            if !valid_name(name, true) {
                return Err(at(format!("bad metric name {name:?}")));
            }
            match kw {
                "HELP" => {
                    if !helped.insert(name.to_owned()) {
                        return Err(at("HELP twice".into()));
                    }
                }
                "TYPE" => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&arg) {
                        return Err(at(format!("bad type {arg:?}")));
                    }
                    if scrape
                        .types
                        .insert(name.to_owned(), arg.to_owned())
                        .is_some()
                    {
                        return Err(at("TYPE twice".into()));
                    }
                }
                _ => return Err(at("a comment that is neither HELP nor TYPE".into())),
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("no value".into()))?;
        let name = &line[..name_end];
        if !valid_name(name, true) {
            return Err(at(format!("bad metric name {name:?}")));
        }
        let (labels, rest) = match line[name_end..].strip_prefix('{') {
            Some(l) => labels(l).map_err(at)?,
            None => (BTreeMap::new(), &line[name_end..]),
        };
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or_else(|| at("no space before the value".into()))?
            .split(' ');
        let v = value(fields.next().unwrap_or("")).map_err(at)?;
        if let Some(ts) = fields.next() {
            ts.parse::<i64>().map_err(|_| at("bad timestamp".into()))?;
        }
        if fields.next().is_some() {
            return Err(at("trailing fields".into()));
        }
        let family = family_of(name, &scrape.types).to_owned();
        let Some(kind) = scrape.types.get(&family) else {
            return Err(at(format!("sample of {family} before its # TYPE")));
        };
        if kind == "counter" && (v.is_nan() || v < 0.0) {
            return Err(at("a negative or NaN counter".into()));
        }
        if current.as_deref() != Some(family.as_str()) {
            if done.contains(&family) {
                return Err(at(format!("family {family} split in two")));
            }
            if let Some(prev) = current.replace(family.clone()) {
                done.insert(prev);
            }
        }
        if scrape
            .samples
            .insert((name.to_owned(), labels), v)
            .is_some()
        {
            return Err(at("the same series twice".into()));
        }
    }
    check_histograms(&scrape)?;
    Ok(scrape)
}

/// Buckets ascending in `le`, non-decreasing in count, with `+Inf` equal to `_count` and a
/// `_sum`, for every histogram series.
fn check_histograms(scrape: &Scrape) -> Result<(), String> {
    let mut series: BTreeMap<Series, Vec<(f64, f64)>> = BTreeMap::new();
    for ((name, labels), v) in &scrape.samples {
        let Some(base) = name.strip_suffix("_bucket") else {
            continue;
        };
        if scrape.types.get(base).map(String::as_str) != Some("histogram") {
            continue;
        }
        let mut rest = labels.clone();
        let le = rest
            .remove("le")
            .ok_or_else(|| format!("{name} without le"))?;
        series
            .entry((base.to_owned(), rest))
            .or_default()
            .push((value(&le)?, *v));
    }
    for ((base, labels), mut buckets) in series {
        buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
        if buckets.windows(2).any(|w| w[1].1 < w[0].1) {
            return Err(format!("{base} {labels:?}: buckets go down"));
        }
        let inf = buckets
            .last()
            .filter(|b| b.0 == f64::INFINITY)
            .ok_or_else(|| format!("{base} {labels:?}: no +Inf bucket"))?
            .1;
        let count = scrape
            .samples
            .get(&(format!("{base}_count"), labels.clone()))
            .ok_or_else(|| format!("{base} {labels:?}: no _count"))?;
        if *count != inf {
            return Err(format!("{base} {labels:?}: +Inf {inf} != count {count}"));
        }
        if !scrape
            .samples
            .contains_key(&(format!("{base}_sum"), labels.clone()))
        {
            return Err(format!("{base} {labels:?}: no _sum"));
        }
    }
    Ok(())
}

#[test]
fn the_reader_refuses_what_a_prometheus_scrape_would() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 3\n\
                # TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n";
    assert!(parse(good).is_ok(), "{:?}", parse(good));
    for bad in [
        "a 1\n",                                                     // no TYPE
        "# TYPE a counter\na{x=\"1} 1\n",                            // unterminated
        "# TYPE a counter\na 1\n# TYPE b gauge\nb 1\na{y=\"\"} 2\n", // split family
        "# TYPE a counter\na -1\n",                                  // negative counter
        "# TYPE a gauge\na 1",                                       // no final newline
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
        "# TYPE a gauge\na 1\na 2\n", // the same series twice
        "# TYPE a gauge\na{x=\"\\q\"} 1\n",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
}
