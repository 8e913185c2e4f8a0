import * as DurableJobPool from "@async-job/durable/DurableJobPool"
import { testDurableJobs } from "./fixtures/suite.js"

testDurableJobs("WorkflowEngine.layerMemory", DurableJobPool.layerMemory)
