// Who is logged in (the web UI's route guard asks this).
export default defineEventHandler(async (event) => {
  const session = await requireAdmin(event)
  return { username: session.username }
})
