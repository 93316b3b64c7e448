//! Charts drawn as SVG by the server: no script, no library, no CDN. A bar chart is all the
//! dashboard needs so far; a hand-written one costs no build time (a charting crate would).
//!
//! Readability: the view box is 480 units wide and the dashboard lays charts out at least
//! 440 px wide (two a row at 1280 px, scrolling inside their figure on a phone), so the
//! 12-unit labels render at 11 px or more. The value axis has ticks at round numbers with
//! gridlines; each bar carries its value in a `<title>` (shown on hover). A chart is an image
//! to assistive technology, so every chart also gets [`data_table`], the same numbers as an
//! HTML table.

use super::esc;
use std::fmt::Write;

/// The view box's width and height.
const W: f64 = 480.0;
const H: f64 = 240.0;
/// Room for the value ticks on the left, the day labels below, and the top tick's label.
const LEFT: f64 = 48.0;
const RIGHT: f64 = 8.0;
const BOTTOM: f64 = 30.0;
const TOP: f64 = 14.0;
/// Label size in view-box units (see the module header for why 12).
pub const LABEL_SIZE: f64 = 12.0;

/// Round tick values from 0 to at least `max`: steps of 1, 2 or 5 times a power of ten,
/// about four of them.
pub fn ticks(max: u64) -> Vec<u64> {
    let max = max.max(1);
    let raw = (max as f64 / 4.0).max(1.0);
    let mag = 10f64.powi(raw.log10().floor() as i32);
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
        .max(1.0) as u64;
    let top = max.div_ceil(step) * step;
    (0..=top / step).map(|k| k * step).collect()
}

/// A bar chart of `values` labelled `labels`, with a title read by screen readers, a value
/// axis with ticks, and each bar's value in its `<title>`.
pub fn bar_chart(title: &str, labels: &[String], values: &[u64], fill: &str) -> String {
    let n = values.len().max(1) as f64;
    let ticks = ticks(values.iter().copied().max().unwrap_or(0));
    let top = *ticks.last().unwrap_or(&1) as f64;
    let slot = (W - LEFT - RIGHT) / n;
    let bar = (slot * 0.7).max(1.0);
    let plot_h = H - BOTTOM - TOP;
    let y0 = H - BOTTOM;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-labelledby="t-{id}" xmlns="http://www.w3.org/2000/svg"><title id="t-{id}">{t}</title><g class="axis">"#,
        id = slug(title),
        t = esc(title)
    );
    for v in &ticks {
        let y = y0 - (*v as f64 / top) * plot_h;
        let _ = write!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{x2}" y2="{y:.1}" stroke="{stroke}"/><text class="tick" data-value="{v}" x="{tx}" y="{ty:.1}" font-size="{LABEL_SIZE}" text-anchor="end" fill="#333">{v}</text>"##,
            x2 = W - RIGHT,
            stroke = if *v == 0 { "#555" } else { "#ddd" },
            tx = LEFT - 6.0,
            ty = y + LABEL_SIZE / 3.0,
        );
    }
    s.push_str("</g>");
    // Every other day label when there are many, so they do not collide.
    let every = if values.len() > 8 { 2 } else { 1 };
    for (i, v) in values.iter().enumerate() {
        let h = (*v as f64 / top) * plot_h;
        let x = LEFT + slot * i as f64 + (slot - bar) / 2.0;
        let label = labels.get(i).map_or("", String::as_str);
        let _ = write!(
            s,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{h:.1}" fill="{fill}" data-value="{v}"><title>{l}: {v}</title></rect>"##,
            y = y0 - h,
            l = esc(label),
        );
        if (values.len() - 1 - i).is_multiple_of(every) {
            let _ = write!(
                s,
                r##"<text class="xlabel" x="{cx:.1}" y="{ly}" font-size="{LABEL_SIZE}" text-anchor="middle" fill="#333">{l}</text>"##,
                cx = x + bar / 2.0,
                ly = H - 10.0,
                l = esc(label),
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The numbers of a chart as a table inside a closed `<details>`: what a screen reader (or
/// anyone wanting the exact figures) reads instead of the image.
pub fn data_table(summary: &str, heads: [&str; 2], labels: &[String], values: &[u64]) -> String {
    let mut s = format!(
        "<details class=\"data\"><summary>{}</summary><table>{}<tbody>",
        esc(summary),
        super::thead(&heads)
    );
    for (l, v) in labels.iter().zip(values) {
        let _ = write!(s, "<tr><th scope=\"row\">{}</th><td>{v}</td></tr>", esc(l));
    }
    s.push_str("</tbody></table></details>");
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
    fn bars_scale_to_the_top_tick_and_carry_their_numbers() {
        let svg = bar_chart(
            "新增 <cases>",
            &["07-01".into(), "07-02".into()],
            &[5, 10],
            "#b3261e",
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("新增 &lt;cases&gt;"), "title escaped: {svg}");
        assert_eq!(svg.matches("<rect").count(), 2);
        // Ticks 0, 5, 10: the larger bar is the full plot height (240 - 30 - 14 = 196),
        // the other half of it.
        assert!(svg.contains(r#"height="196.0""#), "{svg}");
        assert!(svg.contains(r#"height="98.0""#), "{svg}");
        assert!(svg.contains(">07-02: 10</title>"), "{svg}");
        for v in [0, 5, 10] {
            assert!(
                svg.contains(&format!(r#"class="tick" data-value="{v}""#)),
                "{svg}"
            );
        }
        assert!(!svg.contains(r#"font-size="10""#), "no small labels: {svg}");
    }

    #[test]
    fn ticks_are_round_steps_reaching_the_largest_value() {
        assert_eq!(ticks(0), vec![0, 1]);
        assert_eq!(ticks(3), vec![0, 1, 2, 3]);
        assert_eq!(ticks(10), vec![0, 5, 10]);
        assert_eq!(ticks(37), vec![0, 10, 20, 30, 40]);
        assert_eq!(ticks(1234), vec![0, 500, 1000, 1500]);
        for max in [1u64, 7, 99, 101, 4_999, 123_456] {
            let t = ticks(max);
            assert!(
                *t.last().unwrap() >= max && t.len() <= 6 && t.len() >= 2,
                "{max}: {t:?}"
            );
        }
    }

    #[test]
    fn an_all_zero_series_draws_flat_bars_without_dividing_by_zero() {
        let svg = bar_chart("x", &["a".into()], &[0], "#000");
        assert!(svg.contains(r#"height="0.0""#), "{svg}");
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn the_data_table_lists_every_label_with_its_value() {
        let t = data_table(
            "数据",
            ["日期", "人数"],
            &["07-01".into(), "<x>".into()],
            &[5, 10],
        );
        assert!(t.starts_with("<details"), "{t}");
        assert!(t.contains("<th scope=\"row\">07-01</th><td>5</td>"), "{t}");
        assert!(
            t.contains("<th scope=\"row\">&lt;x&gt;</th><td>10</td>"),
            "{t}"
        );
    }
}
