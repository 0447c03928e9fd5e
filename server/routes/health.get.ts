import { healthReport } from '../system/health'

export default defineEventHandler(async (event) => {
  const report = await healthReport()
  if (report.status === 'unhealthy') setResponseStatus(event, 503)
  return report
})
