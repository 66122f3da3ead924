//! A server-rendered SVG chart of daily volume (bars) and spend (line), no JavaScript.

use chrono::NaiveDate;
use leptos::prelude::*;
use openclaw_core::domain::Money;

/// One day: messages created and money spent (micro-units).
#[derive(Debug, Clone)]
pub struct Day {
    pub date: NaiveDate,
    pub messages: i64,
    pub spend_micros: i64,
}

const W: f64 = 640.0;
const H: f64 = 200.0;
const PAD_LEFT: f64 = 8.0;
const PAD_BOTTOM: f64 = 22.0;

#[component]
pub fn VolumeChart(days: Vec<Day>, currency: String) -> impl IntoView {
    let n = days.len().max(1) as f64;
    let max_messages = days.iter().map(|d| d.messages).max().unwrap_or(0).max(1) as f64;
    let max_spend = days
        .iter()
        .map(|d| d.spend_micros)
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let plot_h = H - PAD_BOTTOM;
    let slot = (W - PAD_LEFT) / n;
    let total_messages: i64 = days.iter().map(|d| d.messages).sum();
    let total_spend: i64 = days.iter().map(|d| d.spend_micros).sum();
    let bars = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let h = plot_h * d.messages as f64 / max_messages;
            let x = PAD_LEFT + i as f64 * slot + slot * 0.15;
            view! {
                <rect class="bar" x=format!("{x:.1}") y=format!("{:.1}", plot_h - h)
                    width=format!("{:.1}", slot * 0.7) height=format!("{h:.1}")>
                    <title>{format!("{}: {} messages", d.date, d.messages)}</title>
                </rect>
            }
        })
        .collect_view();
    let line = days
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let x = PAD_LEFT + i as f64 * slot + slot / 2.0;
            let y = plot_h - plot_h * d.spend_micros as f64 / max_spend;
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ");
    let first = days
        .first()
        .map(|d| d.date.format("%b %-d").to_string())
        .unwrap_or_default();
    let last = days
        .last()
        .map(|d| d.date.format("%b %-d").to_string())
        .unwrap_or_default();
    let summary = format!(
        "{total_messages} messages and {} {currency} spent over the last {} days; the busiest day had {} messages.",
        Money::format_amount(total_spend),
        days.len(),
        max_messages as i64
    );
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-labelledby="chart-title chart-desc">
                <title id="chart-title">"Messages and spend per day"</title>
                <desc id="chart-desc">{summary.clone()}</desc>
                <line class="axis" x1=PAD_LEFT y1=plot_h x2=W y2=plot_h />
                {bars}
                <polyline class="spend" points=line fill="none" />
                <text class="tick" x=PAD_LEFT y=H - 6.0>{first}</text>
                <text class="tick" x=W y=H - 6.0 text-anchor="end">{last}</text>
            </svg>
            <figcaption>
                <span class="key bar-key">"Messages per day (bars)"</span>
                <span class="key spend-key">"Spend per day (line)"</span>
                <span>{summary}</span>
            </figcaption>
        </figure>
    }
}
