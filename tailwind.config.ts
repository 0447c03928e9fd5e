import type { Config } from 'tailwindcss'

// The theme store toggles the `dark` class on <html> (light / dark / follow system).
export default {
  darkMode: 'class',
} satisfies Partial<Config>
