import { defineStore } from 'pinia'

export interface Toast { id: number, kind: 'error' | 'success' | 'info', text: string }

let next = 1

/** Short messages in the corner (errors carry the server's message). */
export const useToastStore = defineStore('toast', {
  state: () => ({ items: [] as Toast[] }),
  actions: {
    show(kind: Toast['kind'], text: string, ms = 5000) {
      const id = next++
      this.items.push({ id, kind, text })
      setTimeout(() => this.dismiss(id), ms)
    },
    dismiss(id: number) {
      this.items = this.items.filter(t => t.id !== id)
    },
  },
})
