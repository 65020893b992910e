//! The PNG of BENCHMARKS.md, drawn from the results of the run (plotters,
//! bitmap backend, no system libraries). Text needs a TrueType font: the first
//! of `CCX_BENCH_FONT` and a few usual system paths that exists is used; with
//! none, the bars are drawn without text rather than failing the run.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::report::Results;

const FONT_CANDIDATES: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

/// Registers a font for "sans-serif"; false when none was found.
fn register_font() -> bool {
    let from_env = std::env::var("CCX_BENCH_FONT").ok();
    let candidates = from_env
        .iter()
        .map(String::as_str)
        .chain(FONT_CANDIDATES.iter().copied());
    for path in candidates {
        if let Ok(bytes) = std::fs::read(path) {
            let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
            if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                return true;
            }
        }
    }
    false
}

fn short(function: &str) -> String {
    match function {
        "tool-mapper" => "mapper".into(),
        "tool-invoker" => "invoker".into(),
        "compensation" => "compens.".into(),
        "failure-recorder" => "fail-rec.".into(),
        other => other.into(),
    }
}

struct Panel<'a> {
    title: &'a str,
    labels: Vec<String>,
    values: Vec<f64>,
    color: RGBColor,
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    panel: &Panel,
    text: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let max = panel
        .values
        .iter()
        .copied()
        .fold(0.0_f64, f64::max)
        .max(1e-9)
        * 1.15;
    let n = panel.values.len();
    let mut builder = ChartBuilder::on(area);
    builder.margin(12);
    if text {
        builder
            .caption(panel.title, ("sans-serif", 20))
            .x_label_area_size(34)
            .y_label_area_size(52);
    }
    let mut chart = builder
        // `a..b` segmented has a slot for `b` too: end at the last index.
        .build_cartesian_2d((0..n.saturating_sub(1).max(1)).into_segmented(), 0.0..max)
        .map_err(|e| anyhow!("{e}"))?;
    if text {
        let labels = panel.labels.clone();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_style(("sans-serif", 13))
            .x_label_formatter(&move |x| match x {
                SegmentValue::CenterOf(i) => labels.get(*i).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .y_label_style(("sans-serif", 13))
            .draw()
            .map_err(|e| anyhow!("{e}"))?;
    }
    chart
        .draw_series(
            Histogram::vertical(&chart)
                .style(panel.color.filled())
                .margin(6)
                .data(panel.values.iter().enumerate().map(|(i, v)| (i, *v))),
        )
        .map_err(|e| anyhow!("{e}"))?;
    Ok(())
}

/// Three panels: cold start (median ms), peak RSS (MiB), engine throughput (exec/s).
pub fn draw(results: &Results, path: &Path) -> Result<()> {
    let text = register_font();
    if !text {
        eprintln!(
            "ccx-bench: no TrueType font found (set CCX_BENCH_FONT); plot drawn without text"
        );
    }
    let root = BitMapBackend::new(path, (1500, 520)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
    let areas = root.split_evenly((1, 3));
    let functions: Vec<String> = results
        .cold_start
        .iter()
        .map(|c| short(&c.function))
        .collect();
    let panels = [
        Panel {
            title: "Cold start to first response (median ms)",
            labels: functions.clone(),
            values: results
                .cold_start
                .iter()
                .map(|c| c.time_to_first_response_ms.median)
                .collect(),
            color: RGBColor(52, 101, 164),
        },
        Panel {
            title: "Peak RSS at first response (MiB)",
            labels: functions,
            values: results
                .cold_start
                .iter()
                .map(|c| c.peak_rss_mib.median)
                .collect(),
            color: RGBColor(78, 154, 6),
        },
        Panel {
            title: "Embedded engine (executions/s by concurrency)",
            labels: results
                .throughput
                .iter()
                .map(|t| format!("{} in flight", t.concurrency))
                .collect(),
            values: results
                .throughput
                .iter()
                .map(|t| t.executions_per_second)
                .collect(),
            color: RGBColor(204, 0, 0),
        },
    ];
    for (area, panel) in areas.iter().zip(&panels) {
        if !panel.values.is_empty() {
            draw_panel(area, panel, text)?;
        }
    }
    root.present().map_err(|e| anyhow!("{e}"))?;
    Ok(())
}
