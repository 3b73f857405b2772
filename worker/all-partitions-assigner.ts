/**
 * kafkajs has no `assign()`: consumers only join groups. Eddy gives each worker process a
 * consumer group of its own (one member), and this assigner hands that member every partition
 * of the subscribed topics. Which of them the worker actually reads is decided by pausing and
 * resuming partitions as the coordinator assigns and revokes tasks, so ownership changes never
 * wait for a Kafka group rebalance.
 */
import { AssignerProtocol, type PartitionAssigner } from 'kafkajs';

export const allPartitionsAssigner: PartitionAssigner = ({ cluster }) => ({
  name: 'EddyAllPartitions',
  version: 1,
  assign({ members, topics }) {
    const assignment: Record<string, number[]> = {};
    for (const topic of topics) {
      assignment[topic] = cluster.findTopicPartitionMetadata(topic).map((p) => p.partitionId).sort((a, b) => a - b);
    }
    return Promise.resolve(
      members.map((member) => ({
        memberId: member.memberId,
        memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 1, assignment, userData: Buffer.alloc(0) }),
      })),
    );
  },
  protocol({ topics }) {
    return { name: 'EddyAllPartitions', metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) };
  },
});
