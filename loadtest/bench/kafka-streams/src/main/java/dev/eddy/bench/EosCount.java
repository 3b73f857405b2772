package dev.eddy.bench;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What Eddy's `eos-check` job does (examples/eos-check/job.ts), as a Kafka Streams application
 * with exactly_once_v2: reads JSON records {"key": string, "seq": number} keyed by `key`, counts
 * the records of each key in a persistent state store, and writes {"key", "seq", "count"} keyed
 * by `key`, where count is how many records of that key were handled, this one included. A record
 * that is not such an object is logged and skipped (Eddy dead-letters it).
 *
 * <p>Usage: {@code EosCount --bootstrap-servers HOST:PORT [--application-id ID] [--input-topic T]
 * [--output-topic T] [--state-dir DIR]}; each option but the first may come from the environment
 * instead: EOS_COUNT_APPLICATION_ID, EOS_COUNT_INPUT_TOPIC, EOS_COUNT_OUTPUT_TOPIC,
 * EOS_COUNT_STATE_DIR. Runs until SIGTERM (closes cleanly) or a stream thread fails (exit 1).
 */
public final class EosCount {
    private static final Logger log = LoggerFactory.getLogger(EosCount.class);
    static final String STORE = "counts";

    private EosCount() {}

    public static void main(String[] args) throws InterruptedException {
        Map<String, String> options = parseArgs(args);
        String bootstrap = required(options, "bootstrap-servers", null);
        String applicationId = required(options, "application-id", "EOS_COUNT_APPLICATION_ID");
        String input = required(options, "input-topic", "EOS_COUNT_INPUT_TOPIC");
        String output = required(options, "output-topic", "EOS_COUNT_OUTPUT_TOPIC");
        String stateDir = optional(options, "state-dir", "EOS_COUNT_STATE_DIR");

        Properties props = new Properties();
        props.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, 2);
        props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 100);
        props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
        if (stateDir != null) props.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);

        KafkaStreams streams = new KafkaStreams(topology(input, output), props);
        CountDownLatch ended = new CountDownLatch(1);
        streams.setStateListener((now, before) -> {
            log.info("state {} -> {}", before, now);
            if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) ended.countDown();
        });
        streams.setUncaughtExceptionHandler(error -> {
            log.error("a stream thread failed; shutting down", error);
            return StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> streams.close(Duration.ofSeconds(30)), "eos-count-shutdown"));
        log.info("starting {}: {} -> {}, exactly_once_v2, 2 stream threads, commit every 100 ms", applicationId, input, output);
        streams.start();
        ended.await();
        if (streams.state() == KafkaStreams.State.ERROR) {
            streams.close(Duration.ofSeconds(10));
            System.exit(1);
        }
    }

    static org.apache.kafka.streams.Topology topology(String input, String output) {
        ObjectMapper mapper = new ObjectMapper();
        StreamsBuilder builder = new StreamsBuilder();
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), Serdes.String(), Serdes.Long()));
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
            .process(() -> new CountProcessor(mapper), STORE)
            .to(output, Produced.with(Serdes.String(), Serdes.String()));
        return builder.build();
    }

    /** The per-key count: one store read and write and one output per input record. */
    static final class CountProcessor implements Processor<String, String, String, String> {
        private final ObjectMapper mapper;
        private ProcessorContext<String, String> context;
        private KeyValueStore<String, Long> counts;

        CountProcessor(ObjectMapper mapper) {
            this.mapper = mapper;
        }

        @Override
        public void init(ProcessorContext<String, String> context) {
            this.context = context;
            this.counts = context.getStateStore(STORE);
        }

        @Override
        public void process(Record<String, String> record) {
            JsonNode input = parse(record.value());
            JsonNode key = input == null ? null : input.get("key");
            JsonNode seq = input == null ? null : input.get("seq");
            if (key == null || !key.isTextual() || seq == null || !seq.isNumber()) {
                log.warn("skipped a record that is not {\"key\": string, \"seq\": number} ({}:{})",
                    context.recordMetadata().map(m -> m.topic() + "-" + m.partition()).orElse("?"),
                    context.recordMetadata().map(m -> m.offset()).orElse(-1L));
                return;
            }
            String k = key.textValue();
            Long previous = counts.get(k);
            long count = (previous == null ? 0L : previous) + 1;
            counts.put(k, count);
            ObjectNode out = mapper.createObjectNode();
            out.put("key", k);
            out.set("seq", seq);
            out.put("count", count);
            try {
                context.forward(record.withKey(k).withValue(mapper.writeValueAsString(out)));
            } catch (JsonProcessingException e) {
                throw new UncheckedIOException(e);
            }
        }

        /** The record's JSON object, or null if it is none. */
        private JsonNode parse(String value) {
            if (value == null) return null;
            try {
                JsonNode node = mapper.readTree(value);
                return node != null && node.isObject() ? node : null;
            } catch (JsonProcessingException e) {
                return null;
            }
        }
    }

    private static Map<String, String> parseArgs(String[] args) {
        Map<String, String> options = new HashMap<>();
        for (int i = 0; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 >= args.length) usage("expected --name value pairs, got '" + args[i] + "'");
            options.put(args[i].substring(2), args[i + 1]);
        }
        return options;
    }

    private static String optional(Map<String, String> options, String name, String env) {
        String value = options.get(name);
        if (value == null && env != null) value = System.getenv(env);
        return value == null || value.isEmpty() ? null : value;
    }

    private static String required(Map<String, String> options, String name, String env) {
        String value = optional(options, name, env);
        if (value == null) usage("missing --" + name + (env == null ? "" : " (or " + env + ")"));
        return value;
    }

    private static void usage(String problem) {
        System.err.println("EosCount: " + problem);
        System.err.println("usage: EosCount --bootstrap-servers HOST:PORT --application-id ID --input-topic T --output-topic T [--state-dir DIR]");
        System.exit(2);
    }
}
