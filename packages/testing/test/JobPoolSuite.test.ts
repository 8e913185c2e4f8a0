import { JobPool } from "@async-job/core"
import { testJobPool } from "@async-job/testing/JobPoolSuite"

testJobPool("JobPool.layer (in memory)", JobPool.layer)
