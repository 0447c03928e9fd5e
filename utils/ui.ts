// Tailwind class strings of the console's kit (components/ui), kept in one place so a panel, a
// field or a checkbox looks the same wherever it is drawn — also where the element cannot be the
// kit's component (a table row that is a card on phones).

/** A panel's tone: the frosted default, a warning that must catch the eye, or a dashed empty state. */
export type PanelTone = 'default' | 'warning' | 'dashed'

// Each tone is a whole set of border and background colours, so a tone replaces the default's
// instead of overriding it (which would depend on the order Tailwind writes its CSS in).
const PANEL_TONES: Record<PanelTone, string> = {
  default: 'border-white/60 bg-white/60 dark:border-slate-700/60 dark:bg-slate-900/50',
  warning: 'border-amber-300/70 bg-amber-50/70 dark:border-amber-700/60 dark:bg-amber-950/40',
  dashed: 'border-dashed border-slate-300 bg-white/50 dark:border-slate-600 dark:bg-slate-900/40',
}

/** The card every screen is built from, in a tone (UiPanel; padding is the caller's). */
export function panelToneClass(tone: PanelTone): string {
  return `min-w-0 rounded-2xl border shadow-sm backdrop-blur ${PANEL_TONES[tone]}`
}

/** The frosted card every screen is built from (UiPanel; padding is the caller's). */
export const panelClass = panelToneClass('default')

/**
 * panelClass from a breakpoint up, for a table that is one panel on wide screens and a stack of
 * row cards below. Whole class names, as Tailwind only generates what it finds written out.
 */
export const panelFromClass = {
  md: 'md:rounded-2xl md:border md:border-white/60 md:bg-white/60 md:shadow-sm md:backdrop-blur md:dark:border-slate-700/60 md:dark:bg-slate-900/50',
  xl: 'xl:rounded-2xl xl:border xl:border-white/60 xl:bg-white/60 xl:shadow-sm xl:backdrop-blur xl:dark:border-slate-700/60 xl:dark:bg-slate-900/50',
} as const

/** A placeholder bar while a figure loads (the caller sizes it). */
export const skeletonClass = 'animate-pulse rounded bg-slate-200 dark:bg-slate-700'

/** A text link inside content (not navigation). */
export const linkClass = 'text-indigo-700 hover:underline dark:text-indigo-300'

/** A form control's label (or a fieldset's legend). */
export const labelClass = 'text-sm font-medium text-slate-700 dark:text-slate-200'

/** A form's error message (the server's words or a check's); the caller adds role="alert" and margins. */
export const alertClass = 'rounded-lg bg-rose-50 px-3 py-2 text-sm text-rose-700 dark:bg-rose-950/60 dark:text-rose-200'

/** A warning to read before going on (amber: a key shown once, limits that will not apply); the caller adds the text size and margins. */
export const warningClass = 'rounded-lg border border-amber-300 bg-amber-50 px-3 py-2 text-amber-900 dark:border-amber-700/60 dark:bg-amber-950/40 dark:text-amber-200'

/** A text input, textarea or select of a form (UiField hands it to its control); red when invalid. */
export function inputClass(invalid = false): string[] {
  return [
    'w-full rounded-lg border bg-white/80 px-3 py-2 text-sm text-slate-900 shadow-sm outline-none transition placeholder:text-slate-400 focus:ring-2 dark:bg-slate-900/70 dark:text-slate-100 dark:placeholder:text-slate-500 dark:[color-scheme:dark]',
    invalid
      ? 'border-rose-400 focus:border-rose-500 focus:ring-rose-500/30 dark:border-rose-500'
      : 'border-slate-300 focus:border-indigo-500 focus:ring-indigo-500/30 dark:border-slate-600',
  ]
}

/** A compact select in a toolbar (page size, range, language). */
export const selectSmClass = 'rounded-lg border border-slate-300 bg-white/70 px-2 py-1 text-sm dark:border-slate-600 dark:bg-slate-800'

/** A checkbox. */
export const checkClass = 'size-4 rounded border-slate-300 text-indigo-600 focus:ring-2 focus:ring-indigo-500/40 dark:border-slate-600 dark:bg-slate-800'

/** Secondary text. */
export const mutedClass = 'text-slate-500 dark:text-slate-400'
