//! Usage charts as SVG, drawn with `plotters` (its SVG backend only: no
//! fonts or bitmaps to build; the browser lays out the text). The admin
//! console shows them as images beside a table of the same figures, which
//! is what screen readers read.

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::{Report, Row};

/// The console's primary colour: 11:1 on white.
const BAR: RGBColor = RGBColor(0x12, 0x3b, 0x5c);
const SIZE: (u32, u32) = (560, 300);

/// Which chart of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chart {
    /// Interviews per month.
    InterviewsByMonth,
    /// Interviews per service.
    InterviewsByService,
    /// Median wait per service, in minutes.
    MedianWaitByService,
    /// Kilometres saved per month.
    KmByMonth,
}

impl Chart {
    pub const ALL: [Chart; 4] =
        [Chart::InterviewsByMonth, Chart::InterviewsByService, Chart::MedianWaitByService, Chart::KmByMonth];

    /// Its name in URLs: `interviews-by-month`, …
    pub fn name(self) -> &'static str {
        match self {
            Chart::InterviewsByMonth => "interviews-by-month",
            Chart::InterviewsByService => "interviews-by-service",
            Chart::MedianWaitByService => "median-wait-by-service",
            Chart::KmByMonth => "km-by-month",
        }
    }

    pub fn from_name(name: &str) -> Option<Chart> {
        Chart::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The rows it draws and the value of each.
    fn data(self, report: &Report) -> (&[Row], fn(&Row) -> f64) {
        match self {
            Chart::InterviewsByMonth => (&report.by_month, |r| f64::from(r.interviews)),
            Chart::InterviewsByService => (&report.by_service, |r| f64::from(r.interviews)),
            Chart::MedianWaitByService => (&report.by_service, |r| r.median_wait_seconds.unwrap_or(0.0) / 60.0),
            Chart::KmByMonth => (&report.by_month, |r| r.km_saved),
        }
    }
}

/// `chart` of `report` as an SVG document; `y_label` names the values
/// (in the reader's language).
pub fn svg(report: &Report, chart: Chart, y_label: &str) -> String {
    let (rows, value) = chart.data(report);
    let labels: Vec<&str> = rows.iter().map(|r| r.key.as_str()).collect();
    let values: Vec<f64> = rows.iter().map(value).collect();
    let mut out = String::new();
    // Drawing into a String cannot fail but for a bug: an empty chart then.
    if let Err(e) = bars(&mut out, &labels, &values, y_label) {
        return format!("<svg xmlns=\"http://www.w3.org/2000/svg\"><!-- {e} --></svg>");
    }
    out
}

fn bars(out: &mut String, labels: &[&str], values: &[f64], y_label: &str) -> Result<(), Box<dyn std::error::Error>> {
    let root = SVGBackend::with_string(out, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let n = labels.len().max(1);
    let top = values.iter().copied().fold(0.0_f64, f64::max).max(1.0) * 1.15;
    let mut chart = ChartBuilder::on(&root)
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(56)
        // A segmented range `0..k` has k + 1 segments: one per label.
        .build_cartesian_2d((0..n - 1).into_segmented(), 0.0..top)?;
    let name = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => labels.get(*i).map(|s| (*s).to_owned()).unwrap_or_default(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&name)
        .y_desc(y_label)
        .label_style(("sans-serif", 13).into_font().color(&BLACK))
        .axis_desc_style(("sans-serif", 14).into_font().color(&BLACK))
        .draw()?;
    chart.draw_series(values.iter().enumerate().map(|(i, v)| {
        let mut bar = Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)], BAR.filled());
        bar.set_margin(0, 0, 8, 8);
        bar
    }))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_svg_with_one_bar_per_row_and_its_labels() {
        let row = |key: &str, interviews: u32| Row { key: key.into(), interviews, ..Row::default() };
        let report = Report {
            from: "2026-10-01".parse().unwrap(),
            to: "2026-11-30".parse().unwrap(),
            timezone: "Europe/Paris".into(),
            road_detour_factor: crate::ROAD_DETOUR_FACTOR,
            kg_co2e_per_km: crate::KG_CO2E_PER_KM,
            by_service: vec![],
            by_kiosk: vec![],
            by_site: vec![],
            by_month: vec![row("2026-10", 12), row("2026-11", 30)],
            total: Row::default(),
            warnings: vec![],
        };
        let svg = svg(&report, Chart::InterviewsByMonth, "entretiens");
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{svg}");
        for text in ["2026-10", "2026-11", "entretiens"] {
            assert!(svg.contains(text), "{text} missing from {svg}");
        }
        let bars = svg.matches("fill=\"#123B5C\"").count();
        assert_eq!(bars, 2, "{svg}");
        assert_eq!(Chart::from_name("km-by-month"), Some(Chart::KmByMonth));
    }
}
