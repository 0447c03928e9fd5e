import { ReplyError } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { isStoreOutage } from '../../server/store/redis'

// The journal keeps (and retries) a usage record on an outage, and drops it on any other error:
// every way ioredis reports "no answer" must count as an outage, or a record is lost.
describe('isStoreOutage', () => {
  const named = (name: string, message: string) => Object.assign(new Error(message), { name })

  it.each([
    ['a command timeout', new Error('Command timed out')],
    ['a closed connection', new Error('Connection is closed.')],
    ['no offline queue while reconnecting', new Error('Stream isn\'t writeable and enableOfflineQueue options is false')],
    ['retries used up', named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 20).')],
    ['a command in a pipeline when the connection closed', named('AbortError', 'Command aborted due to connection close')],
    ['Redis loading its data after a restart', new ReplyError('LOADING Redis is loading the dataset in memory')],
    ['a replica during failover', new ReplyError('READONLY You can\'t write against a read only replica.')],
    ['a refused connection', new Error('connect ECONNREFUSED 127.0.0.1:6379')],
  ])('%s is an outage', (_, err) => {
    expect(isStoreOutage(err)).toBe(true)
  })

  it.each([
    ['a script error', new ReplyError('ERR user_script:1: Script attempted to access nonexistent global variable')],
    ['a wrong type', new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value')],
    ['nothing', null],
  ])('%s is not', (_, err) => {
    expect(isStoreOutage(err)).toBe(false)
  })
})
