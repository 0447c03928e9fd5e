// Column and cell classes shared by the console's read-only tables (components/ui/DataTable.vue).

/** A header cell: its text, alignment (numbers go right), extra classes, or a label for screen readers only. */
export interface TableColumn {
  label: string
  align?: 'left' | 'right'
  srOnly?: boolean
  class?: string
}

/** Body cells: `td` for text, `tdNum` for right-aligned figures. */
export const tableCell = {
  td: 'whitespace-nowrap px-3 py-1.5',
  tdNum: 'whitespace-nowrap px-3 py-1.5 text-right tabular-nums',
} as const
