//! The duty commands of the `xikang` binary, run as a process over a generated city.

mod common;

fn xikang(dir: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    common::xikang_cli(dir, args)
}

#[test]
fn the_generated_grid_and_duty_reference_data_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, _, err) = xikang(d, &["gen", "--people", "300", "--days", "1"]);
    assert!(ok, "{err}");
    // The generated city's grid has workers: gw0 has a (still empty) task list.
    let (ok, out, err) = xikang(d, &["duties", "tasks", "--worker", "gw0"]);
    assert!(ok && out.is_empty(), "{out} {err}");
    let (ok, _, err) = xikang(d, &["duties", "tasks", "--worker", "nobody"]);
    assert!(!ok && err.contains("no grid cell"), "{err}");

    let (ok, out, err) = xikang(
        d,
        &[
            "duties",
            "site-add",
            "--name",
            "锡山隔离点",
            "--area",
            "320205",
            "--lat",
            "31.6",
            "--lon",
            "120.4",
            "--capacity",
            "120",
        ],
    );
    assert!(ok && out.contains("registered"), "{out} {err}");
    let (_, out, _) = xikang(d, &["duties", "sites"]);
    assert!(out.contains("0/120") && out.contains("锡山隔离点"), "{out}");
    let (ok, _, err) = xikang(
        d,
        &[
            "duties",
            "origin-set",
            "--code",
            "310101",
            "--name",
            "黄浦区",
            "--risk",
            "severe",
        ],
    );
    assert!(!ok && err.contains("risk"), "{err}");

    let csv = d.join("grid.csv");
    std::fs::write(
        &csv,
        "cell,community,name,lat,lon,worker\n0,320213001001,新网格,31.5,120.3,gw-new\n",
    )
    .unwrap();
    let (ok, out, err) = xikang(d, &["grid", "import", csv.to_str().unwrap()]);
    assert!(ok && out.contains("imported 1"), "{out} {err}");
    let (ok, _, _) = xikang(d, &["duties", "tasks", "--worker", "gw-new"]);
    assert!(ok, "the imported worker now has cell 0");
    std::fs::write(
        &csv,
        "cell,community,name,lat,lon,worker\n1,3202,bad,31.5,120.3,\n",
    )
    .unwrap();
    let (ok, _, err) = xikang(d, &["grid", "import", csv.to_str().unwrap()]);
    assert!(!ok && err.contains("line 2"), "{err}");
}

#[test]
fn district_outlines_come_with_the_generated_city_and_an_import_replaces_them_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, _, err) = xikang(d, &["gen", "--people", "300", "--days", "1"]);
    assert!(ok, "{err}");
    let outlines = || {
        let store = xikang_store::open(&xikang_store::Target::Sqlite(d.to_path_buf())).unwrap();
        store.district_outlines().unwrap()
    };
    // The synthetic city's seven districts, each a GeoJSON Polygon.
    let generated = outlines();
    assert_eq!(generated.len(), 7);
    for (code, geometry) in &generated {
        let v: serde_json::Value = serde_json::from_str(geometry).unwrap();
        assert!(
            xikang_domain::duties::Polygon::from_geojson(&v).is_ok(),
            "{}: {geometry}",
            code.as_str()
        );
    }
    let file = d.join("districts.geojson");
    let feature = |code: &str, x: f64| {
        format!(
            r#"{{"type":"Feature","properties":{{"code":{code},"name":"区{x}"}},"geometry":{{"type":"Polygon","coordinates":[[[{x},31],[{x1},31],[{x1},31.1],[{x},31.1],[{x},31]]]}}}}"#,
            x1 = x + 0.1
        )
    };
    // A self-intersecting ring, a bad code, a code twice: refused, nothing changes.
    for bad in [
        r#"{"type":"Feature","properties":{"code":"320213"},"geometry":{"type":"Polygon","coordinates":[[[120,31],[121,32],[121,31],[120,32],[120,31]]]}}"#.to_owned(),
        feature("\"3202\"", 120.0),
        format!("{},{}", feature("320213", 120.0), feature("\"320213\"", 120.2)),
    ] {
        std::fs::write(
            &file,
            format!(r#"{{"type":"FeatureCollection","features":[{bad}]}}"#),
        )
        .unwrap();
        let (ok, _, err) = xikang(d, &["districts", "import", file.to_str().unwrap()]);
        assert!(!ok && err.contains("feature"), "{err}");
        assert_eq!(outlines(), generated, "a refused file changes nothing");
    }
    // Two districts, the code as a number and as a string: the whole map is replaced.
    std::fs::write(
        &file,
        format!(
            r#"{{"type":"FeatureCollection","features":[{},{}]}}"#,
            feature("320213", 120.0),
            feature("\"320211\"", 120.2)
        ),
    )
    .unwrap();
    let (ok, out, err) = xikang(d, &["districts", "import", file.to_str().unwrap()]);
    assert!(ok && out.contains("imported 2"), "{out} {err}");
    let codes: Vec<String> = outlines()
        .into_iter()
        .map(|(c, _)| c.as_str().to_owned())
        .collect();
    assert_eq!(codes, ["320211", "320213"]);
}
