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
