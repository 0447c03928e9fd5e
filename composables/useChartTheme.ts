import { ArcElement, BarElement, CategoryScale, Chart, Filler, Legend, LinearScale, LineElement, PointElement, Tooltip } from 'chart.js'

// Registered once for every dashboard chart (Chart.js is tree-shaken: only what is listed ships).
Chart.register(ArcElement, BarElement, CategoryScale, Filler, Legend, LinearScale, LineElement, PointElement, Tooltip)

/** Series colours, readable on the light and the dark gradient alike. */
export const CHART_COLORS = ['#6366f1', '#0ea5e9', '#10b981', '#f59e0b', '#f43f5e', '#8b5cf6', '#14b8a6', '#f97316', '#64748b']

/** Text and grid colours for the current theme (charts redraw when it changes). */
export function useChartTheme() {
  const dark = useDarkClass()
  return computed(() => ({
    dark: dark.value,
    text: dark.value ? '#cbd5e1' : '#475569',
    grid: dark.value ? 'rgba(148, 163, 184, 0.15)' : 'rgba(100, 116, 139, 0.15)',
    border: dark.value ? '#0f172a' : '#ffffff',
  }))
}
