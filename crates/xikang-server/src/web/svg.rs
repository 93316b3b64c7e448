//! Charts drawn as SVG by the server: no script, no library, no CDN. A bar chart is all the
//! dashboard needs so far; a hand-written one costs no build time (a charting crate would).

use super::esc;
use std::fmt::Write;

/// A bar chart of `values` labelled `labels`, with a title read by screen readers and the
/// value printed on each bar (so the chart does not rely on colour or size alone).
pub fn bar_chart(title: &str, labels: &[String], values: &[u64], fill: &str) -> String {
    const W: f64 = 640.0;
    const H: f64 = 220.0;
    const LEFT: f64 = 36.0;
    const BOTTOM: f64 = 28.0;
    const TOP: f64 = 18.0;
    let n = values.len().max(1) as f64;
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let slot = (W - LEFT - 8.0) / n;
    let bar = (slot * 0.7).max(1.0);
    let plot_h = H - BOTTOM - TOP;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="t-{id}" xmlns="http://www.w3.org/2000/svg"><title id="t-{id}">{t}</title>"#,
        id = slug(title),
        t = esc(title)
    );
    let _ = write!(
        s,
        r##"<line x1="{LEFT}" y1="{y0}" x2="{W}" y2="{y0}" stroke="#555"/><text x="2" y="{TOP}" font-size="11" fill="#333">{max}</text><text x="2" y="{y0}" font-size="11" fill="#333">0</text>"##,
        y0 = H - BOTTOM,
        max = max as u64
    );
    for (i, v) in values.iter().enumerate() {
        let h = (*v as f64 / max) * plot_h;
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        let y = H - BOTTOM - h;
        let label = labels.get(i).map_or("", String::as_str);
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{fill}"><title>{l}: {v}</title></rect><text x="{cx:.1}" y="{ty:.1}" font-size="10" text-anchor="middle" fill="#222">{v}</text>"##,
            l = esc(label),
            cx = x + bar / 2.0,
            ty = (y - 3.0).max(10.0),
        );
        if values.len() <= 16 || i % 2 == 0 {
            let _ = write!(
                s,
                r##"<text x="{cx:.1}" y="{ly}" font-size="10" text-anchor="middle" fill="#333">{l}</text>"##,
                cx = x + bar / 2.0,
                ly = H - 10.0,
                l = esc(label),
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn slug(s: &str) -> String {
    let h = s
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("{h:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_value_and_carry_their_numbers() {
        let svg = bar_chart(
            "新增 <cases>",
            &["07-01".into(), "07-02".into()],
            &[5, 10],
            "#b3261e",
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("新增 &lt;cases&gt;"), "title escaped: {svg}");
        assert_eq!(svg.matches("<rect").count(), 2);
        // The larger bar is the full plot height (220 - 28 - 18 = 174), the other half of it.
        assert!(svg.contains(r#"height="174.0""#), "{svg}");
        assert!(svg.contains(r#"height="87.0""#), "{svg}");
        assert!(svg.contains(">07-02: 10</title>"), "{svg}");
    }

    #[test]
    fn an_all_zero_series_draws_flat_bars_without_dividing_by_zero() {
        let svg = bar_chart("x", &["a".into()], &[0], "#000");
        assert!(svg.contains(r#"height="0.0""#), "{svg}");
        assert!(!svg.contains("NaN"));
    }
}
