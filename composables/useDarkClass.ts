/**
 * Whether <html> has the `dark` class right now. The theme store knows the choice ("system"
 * included); charts need the resolved result, so watch the class itself.
 */
export function useDarkClass() {
  const dark = ref(false)
  let observer: MutationObserver | undefined
  onMounted(() => {
    const html = document.documentElement
    dark.value = html.classList.contains('dark')
    observer = new MutationObserver(() => dark.value = html.classList.contains('dark'))
    observer.observe(html, { attributes: true, attributeFilter: ['class'] })
  })
  onBeforeUnmount(() => observer?.disconnect())
  return dark
}
