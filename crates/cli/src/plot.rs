//! SVG plots shared by `validate`, `rate` and `ellipses` (plotters' SVG backend).
//!
//! Text is written as SVG `<text>` elements that the viewer renders with its own fonts, so
//! no font file or system library is needed (plotters' `ttf` and bitmap features stay off).
//! Each function returns the SVG document as a string; the caller writes it atomically.
//!
//! Three kinds of figure:
//! - [`xy_svg`]: panels of lines/markers with optional error bars, linear or log axes;
//! - [`ellipse_svg`]: covariance ellipses (SPEC §6) over a scatter of ensemble members,
//!   with the ODE-limit and batch paths;
//! - [`bands_svg`]: θ̄_i(t) with a ±2 sd band against ensemble quantiles.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

/// Colours (the "tab10" palette), indexed by series or save time.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// The colour of series or save time `k`.
pub fn colour(k: usize) -> RGBColor {
    PALETTE[k % PALETTE.len()]
}

const GREY: RGBColor = RGBColor(110, 110, 110);
const FONT: &str = "sans-serif";

/// A parameter name for a figure: the paper's `γ_{1,2}` becomes `γ₁,₂` (Unicode subscript
/// digits; TeX braces read badly in a plot).
pub fn plain_name(name: &str) -> String {
    let Some((symbol, rest)) = name.split_once('_') else {
        return name.to_string();
    };
    let subscript: String = rest
        .trim_start_matches('{')
        .trim_end_matches('}')
        .chars()
        .map(|c| match c.to_digit(10) {
            Some(d) => char::from_u32(0x2080 + d).unwrap_or(c),
            None => c,
        })
        .collect();
    format!("{symbol}{subscript}")
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stroke {
    /// A solid line through the points.
    Solid,
    /// A dashed line through the points.
    Dashed,
    /// No line (markers only).
    None,
}

/// One series of an [`XyChart`].
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend text (empty: not in the legend).
    pub label: String,
    /// Points (x, y); non-finite points (and non-positive ones on a log axis) are skipped.
    pub points: Vec<(f64, f64)>,
    /// ± error of each y (empty: no error bars).
    pub y_err: Vec<f64>,
    /// Colour.
    pub colour: RGBColor,
    /// Line style.
    pub stroke: Stroke,
    /// Draw a marker at each point.
    pub markers: bool,
}

impl Series {
    /// A solid line with markers.
    pub fn new(label: impl Into<String>, points: Vec<(f64, f64)>, colour: RGBColor) -> Self {
        Series {
            label: label.into(),
            points,
            y_err: Vec::new(),
            colour,
            stroke: Stroke::Solid,
            markers: true,
        }
    }

    /// The same series drawn with `stroke`.
    pub fn stroke(mut self, stroke: Stroke) -> Self {
        self.stroke = stroke;
        self
    }

    /// The same series with or without markers.
    pub fn markers(mut self, markers: bool) -> Self {
        self.markers = markers;
        self
    }

    /// The same series with ± error bars.
    pub fn errors(mut self, y_err: Vec<f64>) -> Self {
        self.y_err = y_err;
        self
    }
}

/// A panel of lines and markers.
#[derive(Debug, Clone)]
pub struct XyChart {
    /// Title above the panel.
    pub title: String,
    /// x-axis label.
    pub x_label: String,
    /// y-axis label.
    pub y_label: String,
    /// Logarithmic x axis.
    pub log_x: bool,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// Start a linear y axis at 0 (when all values are ≥ 0).
    pub y_from_zero: bool,
    /// The series.
    pub series: Vec<Series>,
}

/// Panels of [`XyChart`]s in a grid of `cols` columns, each `panel` pixels.
pub fn xy_svg(charts: &[XyChart], cols: usize, panel: (u32, u32)) -> anyhow::Result<String> {
    grid(charts.len(), cols, panel, |area, k| {
        let c = &charts[k];
        let (x0, x1) = extent(
            c.series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.0))
                .filter(|x| !c.log_x || *x > 0.0),
            c.log_x,
            false,
        );
        let ys = c.series.iter().flat_map(|s| {
            s.points.iter().enumerate().flat_map(|(i, p)| {
                let e = s.y_err.get(i).copied().unwrap_or(0.0);
                [p.1 - e, p.1 + e]
            })
        });
        let (y0, y1) =
            extent_with_headroom(ys.filter(|y| !c.log_y || *y > 0.0), c.log_y, c.y_from_zero);
        match (c.log_x, c.log_y) {
            (false, false) => draw_xy(area, c, x0..x1, y0..y1),
            (true, false) => draw_xy(area, c, (x0..x1).log_scale(), y0..y1),
            (false, true) => draw_xy(area, c, x0..x1, (y0..y1).log_scale()),
            (true, true) => draw_xy(area, c, (x0..x1).log_scale(), (y0..y1).log_scale()),
        }
    })
}

fn draw_xy<X, Y>(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    c: &XyChart,
    x: X,
    y: Y,
) -> anyhow::Result<()>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(&c.title, (FONT, 16))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(64)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(&c.x_label)
        .y_desc(&c.y_label)
        .x_labels(6)
        .y_labels(6)
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 13))
        .draw()?;
    let ok = |p: &(f64, f64)| {
        p.0.is_finite() && p.1.is_finite() && (!c.log_x || p.0 > 0.0) && (!c.log_y || p.1 > 0.0)
    };
    for s in &c.series {
        let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(ok).collect();
        let colour = s.colour;
        let line = colour.stroke_width(2);
        for (i, p) in s.points.iter().enumerate() {
            let Some(&e) = s.y_err.get(i) else { break };
            if !(ok(p) && e.is_finite() && e > 0.0) {
                continue;
            }
            let low = if c.log_y && p.1 - e <= 0.0 {
                p.1 * 1e-3
            } else {
                p.1 - e
            };
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(p.0, low), (p.0, p.1 + e)],
                colour.stroke_width(1),
            )))?;
        }
        let label = s.label.clone();
        let labelled = !label.is_empty();
        match s.stroke {
            Stroke::Solid => {
                let a = chart.draw_series(LineSeries::new(pts.clone(), line))?;
                if labelled {
                    a.label(label.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                    });
                }
            }
            Stroke::Dashed => {
                let a = chart.draw_series(DashedLineSeries::new(pts.clone(), 6, 4, line))?;
                if labelled {
                    a.label(label.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 7, y)], colour.stroke_width(2))
                    });
                }
            }
            Stroke::None => {}
        }
        if s.markers || s.stroke == Stroke::None {
            let a = chart.draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))?;
            if labelled && s.stroke == Stroke::None {
                a.label(label)
                    .legend(move |(x, y)| Circle::new((x + 9, y), 3, colour.filled()));
            }
        }
    }
    legend_box(&mut chart)?;
    Ok(())
}

fn legend_box<'c, 's: 'c, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'c, SVGBackend<'s>, Cartesian2d<X, Y>>,
) -> anyhow::Result<()> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 12))
        .draw()?;
    Ok(())
}

/// One panel of covariance ellipses over a member scatter.
#[derive(Debug, Clone)]
pub struct EllipsePanel {
    /// Title.
    pub title: String,
    /// x-axis label (the first weight's name).
    pub x_label: String,
    /// y-axis label (the second weight's name).
    pub y_label: String,
    /// One entry per save time, drawn in [`colour`]`(k)`.
    pub times: Vec<EllipseTime>,
    /// The ODE limit (θ̄_i(t), θ̄_j(t)) from t = 0 (empty: not drawn).
    pub ode_path: Vec<[f64; 2]>,
    /// Batch training from t = 0 (empty: not drawn).
    pub batch_path: Vec<[f64; 2]>,
}

/// The ellipses and members of one save time.
#[derive(Debug, Clone)]
pub struct EllipseTime {
    /// t.
    pub t: f64,
    /// Centre (θ̄_i(t), θ̄_j(t)).
    pub centre: [f64; 2],
    /// (level p, closed polyline) per level.
    pub ellipses: Vec<(f64, Vec<[f64; 2]>)>,
    /// Members' (θ_i, θ_j).
    pub members: Vec<[f64; 2]>,
}

/// Ellipse panels in a grid of `cols` columns.
pub fn ellipse_svg(
    panels: &[EllipsePanel],
    cols: usize,
    panel: (u32, u32),
) -> anyhow::Result<String> {
    grid(panels.len(), cols, panel, |area, k| {
        draw_ellipses(area, &panels[k])
    })
}

fn draw_ellipses(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    p: &EllipsePanel,
) -> anyhow::Result<()> {
    // The view holds the ellipses and paths, and the members up to their 0.5 % and 99.5 %
    // quantiles per axis (a few far-out members must not shrink everything else).
    let mut xs: Vec<f64> = Vec::new();
    let mut ys: Vec<f64> = Vec::new();
    for time in &p.times {
        for (_, line) in &time.ellipses {
            xs.extend(line.iter().map(|q| q[0]));
            ys.extend(line.iter().map(|q| q[1]));
        }
    }
    for q in p.ode_path.iter().chain(&p.batch_path) {
        xs.push(q[0]);
        ys.push(q[1]);
    }
    let member_x: Vec<f64> = p
        .times
        .iter()
        .flat_map(|t| t.members.iter().map(|q| q[0]))
        .collect();
    let member_y: Vec<f64> = p
        .times
        .iter()
        .flat_map(|t| t.members.iter().map(|q| q[1]))
        .collect();
    xs.extend(trimmed(member_x));
    ys.extend(trimmed(member_y));
    let (x0, x1) = extent(xs.into_iter(), false, false);
    let (y0, y1) = extent_with_headroom(ys.into_iter(), false, false);
    let mut chart = ChartBuilder::on(area)
        .caption(&p.title, (FONT, 16))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(&p.x_label)
        .y_desc(&p.y_label)
        .x_labels(6)
        .y_labels(6)
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .draw()?;
    let inside = |q: &[f64; 2]| q[0] >= x0 && q[0] <= x1 && q[1] >= y0 && q[1] <= y1;
    for (k, time) in p.times.iter().enumerate() {
        let c = colour(k);
        chart.draw_series(
            time.members
                .iter()
                .filter(|q| inside(q))
                .map(|q| Circle::new((q[0], q[1]), 1, c.mix(0.5).filled())),
        )?;
    }
    let path = |v: &[[f64; 2]]| v.iter().map(|q| (q[0], q[1])).collect::<Vec<_>>();
    if !p.batch_path.is_empty() {
        chart
            .draw_series(DashedLineSeries::new(
                path(&p.batch_path),
                5,
                4,
                GREY.stroke_width(2),
            ))?
            .label("batch training")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 7, y)], GREY.stroke_width(2)));
    }
    if !p.ode_path.is_empty() {
        chart
            .draw_series(LineSeries::new(path(&p.ode_path), BLACK.stroke_width(1)))?
            .label("ODE limit θ̄(t)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(1)));
    }
    for (k, time) in p.times.iter().enumerate() {
        let c = colour(k);
        let mut first = true;
        for (level, line) in &time.ellipses {
            // the outer level thick, inner ones thin
            let width = if *level >= 0.75 { 2 } else { 1 };
            let a = chart.draw_series(LineSeries::new(path(line), c.stroke_width(width)))?;
            if first {
                let levels: Vec<String> =
                    time.ellipses.iter().map(|(p, _)| format!("{p}")).collect();
                let what = if time.members.is_empty() {
                    ""
                } else {
                    "members, "
                };
                a.label(format!(
                    "t = {}: {what}p = {} ellipses",
                    time.t,
                    levels.join(", ")
                ))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
                first = false;
            }
        }
        chart.draw_series(std::iter::once(Cross::new(
            (time.centre[0], time.centre[1]),
            5,
            c.stroke_width(2),
        )))?;
    }
    legend_box(&mut chart)?;
    Ok(())
}

/// One weight's band panel.
#[derive(Debug, Clone)]
pub struct BandPanel {
    /// Title.
    pub title: String,
    /// y-axis label (the weight's name).
    pub y_label: String,
    /// Times from 0.
    pub t: Vec<f64>,
    /// θ̄_i(t).
    pub mean: Vec<f64>,
    /// Predicted sd √(η Σ_ii(t)).
    pub sd: Vec<f64>,
    /// Ensemble 2.5 % quantile.
    pub q_low: Vec<f64>,
    /// Ensemble 97.5 % quantile.
    pub q_high: Vec<f64>,
}

/// Band panels in a grid of `cols` columns.
pub fn bands_svg(panels: &[BandPanel], cols: usize, panel: (u32, u32)) -> anyhow::Result<String> {
    grid(panels.len(), cols, panel, |area, k| {
        draw_band(area, &panels[k])
    })
}

fn draw_band(area: &DrawingArea<SVGBackend<'_>, Shift>, b: &BandPanel) -> anyhow::Result<()> {
    let upper: Vec<(f64, f64)> =
        b.t.iter()
            .zip(b.mean.iter().zip(&b.sd))
            .map(|(&t, (&m, &s))| (t, m + 2.0 * s))
            .collect();
    let lower: Vec<(f64, f64)> =
        b.t.iter()
            .zip(b.mean.iter().zip(&b.sd))
            .map(|(&t, (&m, &s))| (t, m - 2.0 * s))
            .collect();
    let ql: Vec<(f64, f64)> =
        b.t.iter()
            .copied()
            .zip(b.q_low.iter().copied())
            .filter(|p| p.1.is_finite())
            .collect();
    let qh: Vec<(f64, f64)> =
        b.t.iter()
            .copied()
            .zip(b.q_high.iter().copied())
            .filter(|p| p.1.is_finite())
            .collect();
    let (x0, x1) = extent(b.t.iter().copied(), false, false);
    let ys = upper
        .iter()
        .chain(&lower)
        .chain(&ql)
        .chain(&qh)
        .map(|p| p.1);
    let (y0, y1) = extent_with_headroom(ys, false, false);
    let mut chart = ChartBuilder::on(area)
        .caption(&b.title, (FONT, 15))
        .margin(10)
        .x_label_area_size(38)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc("t")
        .y_desc(&b.y_label)
        .x_labels(6)
        .y_labels(6)
        .light_line_style(WHITE.mix(0.0))
        .bold_line_style(BLACK.mix(0.08))
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .draw()?;
    let blue = colour(0);
    let red = colour(3);
    let mut polygon = upper.clone();
    polygon.extend(lower.iter().rev());
    chart
        .draw_series(std::iter::once(Polygon::new(
            polygon,
            blue.mix(0.2).filled(),
        )))?
        .label("θ̄ ± 2√(ηΣᵢᵢ) (theory)")
        .legend(move |(x, y)| {
            Rectangle::new([(x, y - 5), (x + 18, y + 5)], blue.mix(0.2).filled())
        });
    let mean: Vec<(f64, f64)> = b.t.iter().copied().zip(b.mean.iter().copied()).collect();
    chart
        .draw_series(LineSeries::new(mean, blue.stroke_width(2)))?
        .label("θ̄(t)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], blue.stroke_width(2)));
    chart.draw_series(LineSeries::new(upper, blue.stroke_width(1)))?;
    chart.draw_series(LineSeries::new(lower, blue.stroke_width(1)))?;
    chart
        .draw_series(DashedLineSeries::new(ql.clone(), 5, 3, red.stroke_width(2)))?
        .label("ensemble 2.5 % / 97.5 %")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 7, y)], red.stroke_width(2)));
    chart.draw_series(DashedLineSeries::new(qh, 5, 3, red.stroke_width(2)))?;
    legend_box(&mut chart)?;
    Ok(())
}

/// Lays out `n` panels in `cols` columns and draws each with `draw(area, index)`.
fn grid<F>(n: usize, cols: usize, panel: (u32, u32), mut draw: F) -> anyhow::Result<String>
where
    F: FnMut(&DrawingArea<SVGBackend<'_>, Shift>, usize) -> anyhow::Result<()>,
{
    let cols = cols.clamp(1, n.max(1));
    let rows = n.div_ceil(cols).max(1);
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (panel.0 * cols as u32, panel.1 * rows as u32))
                .into_drawing_area();
        root.fill(&WHITE)?;
        let areas = root.split_evenly((rows, cols));
        for (k, area) in areas.iter().enumerate().take(n) {
            draw(area, k)?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// Values between the 0.5 % and 99.5 % quantiles (all of them when there are few).
fn trimmed(mut v: Vec<f64>) -> Vec<f64> {
    v.retain(|x| x.is_finite());
    if v.len() < 200 {
        return v;
    }
    v.sort_by(f64::total_cmp);
    let k = v.len() / 200;
    v[k..v.len() - k].to_vec()
}

/// Fraction of the y range added at the top of a panel so the legend does not cover data.
const LEGEND_HEADROOM: f64 = 0.3;

/// [`extent`] with [`LEGEND_HEADROOM`] added at the top.
fn extent_with_headroom(
    values: impl Iterator<Item = f64>,
    log: bool,
    from_zero: bool,
) -> (f64, f64) {
    let (lo, hi) = extent(values, log, from_zero);
    if log {
        (lo, hi * (hi / lo).powf(LEGEND_HEADROOM))
    } else {
        (lo, hi + LEGEND_HEADROOM * (hi - lo))
    }
}

/// A padded axis range holding the finite `values`: 5 % margins on a linear axis (from 0
/// with `from_zero` when all values are ≥ 0), a factor 1.3 on a log axis; never empty.
fn extent(values: impl Iterator<Item = f64>, log: bool, from_zero: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return if log { (0.1, 10.0) } else { (0.0, 1.0) };
    }
    if log {
        if lo == hi {
            return (lo / 2.0, hi * 2.0);
        }
        return (lo / 1.3, hi * 1.3);
    }
    if from_zero && lo >= 0.0 {
        lo = 0.0;
    }
    let span = if hi > lo { hi - lo } else { lo.abs().max(1e-3) };
    let lo = if from_zero && lo == 0.0 {
        0.0
    } else {
        lo - 0.05 * span
    };
    (lo, hi + 0.05 * span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_use_subscript_digits() {
        assert_eq!(plain_name("γ_{1,2}"), "γ₁,₂");
        assert_eq!(plain_name("β_{12,3}"), "β₁₂,₃");
        assert_eq!(plain_name("θ_7"), "θ₇");
        assert_eq!(plain_name("w"), "w");
    }

    #[test]
    fn extents_are_padded_and_never_empty() {
        assert_eq!(extent([1.0, 1.0].into_iter(), false, false), (0.95, 1.05));
        assert_eq!(extent(std::iter::empty(), false, false), (0.0, 1.0));
        let (lo, hi) = extent([0.5, 2.0].into_iter(), false, true);
        assert_eq!(lo, 0.0);
        assert!((hi - 2.1).abs() < 1e-12);
        let (lo, hi) = extent([0.01, 1.0, f64::NAN].into_iter(), true, false);
        assert!(lo < 0.01 && hi > 1.0);
    }

    #[test]
    fn an_xy_chart_renders_as_svg_text() {
        let chart = XyChart {
            title: "test".into(),
            x_label: "η".into(),
            y_label: "y".into(),
            log_x: true,
            log_y: true,
            y_from_zero: false,
            series: vec![
                Series::new("a", vec![(0.01, 0.02), (0.1, 0.2)], colour(0))
                    .errors(vec![0.001, 0.01]),
                Series::new("b", vec![(0.01, 0.05), (0.1, 0.05)], colour(1)).stroke(Stroke::Dashed),
            ],
        };
        let svg = xy_svg(&[chart], 1, (400, 300)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("<text") && svg.contains("η"));
    }
}
