// The clickstream job (examples/clickstream/job.ts) written with Kafka Streams' DSL (4.1), to compare
// lengths honestly (docs/comparison/README.md). Compiles; not run. Comments say what it leaves out.
package eddy.comparison;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

public final class ClickstreamTopology {
  static final Duration DEDUP = Duration.ofMinutes(10);
  static final Set<String> TYPES = Set.of("page_view", "add_to_cart", "checkout", "purchase");

  public record Click(String event_id, Integer user_id, String session_id, String event_type, Integer product_id, Double price, Long ts) {}
  public record User(int user_id, String email, String tier, String country) {}
  public record UserVersion(int user_id, String email, String tier, String country, int version, String valid_from, String valid_to, boolean is_current) {}
  public record Sessions(Map<String, Boolean> purchased) {}
  public record Conversion(String window_start, String window_end, int sessions, long converted, double conversion_rate) {}

  /** The event rules; a failing event throws and goes to the KIP-1034 dead-letter topic, with one reason. */
  static Click valid(Click e) {
    if (e.event_id() == null || e.user_id() == null || e.session_id() == null || e.event_type() == null || e.ts() == null) throw new IllegalArgumentException("missing field");
    if (!TYPES.contains(e.event_type())) throw new IllegalArgumentException("unknown event_type");
    if (e.price() != null && e.price() <= 0) throw new IllegalArgumentException("price must be positive");
    if ("purchase".equals(e.event_type()) && e.price() == null) throw new IllegalArgumentException("a purchase needs a price");
    return e;
  }

  public static Topology build(String prefix) {
    StreamsBuilder builder = new StreamsBuilder();
    // Event time comes from `ts`: a TimestampExtractor for this topic (4 more lines, not shown).
    KStream<String, Click> events = builder.stream(prefix + ".events", Consumed.with(Serdes.String(), EcommerceTopology.json(Click.class))).mapValues(ClickstreamTopology::valid);

    // De-duplication: a store of seen ids, swept by a punctuator (the DSL has no dedup operator).
    builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("seen"), Serdes.String(), Serdes.Long()));
    KStream<String, Click> clean = events.selectKey((user, e) -> e.event_id())
        .repartition()
        .processValues(() -> new FixedKeyProcessor<String, Click, Click>() {
          private FixedKeyProcessorContext<String, Click> context;
          private KeyValueStore<String, Long> seen;

          @Override
          public void init(FixedKeyProcessorContext<String, Click> context) {
            this.context = context;
            this.seen = context.getStateStore("seen");
            context.schedule(Duration.ofMinutes(1), PunctuationType.STREAM_TIME, now -> {
              try (var all = seen.all()) {
                all.forEachRemaining(kv -> { if (kv.value + DEDUP.toMillis() <= now) seen.delete(kv.key); });
              }
            });
          }

          @Override
          public void process(FixedKeyRecord<String, Click> record) {
            if (seen.get(record.key()) != null) return; // a duplicate (no counter without a custom metric)
            seen.put(record.key(), record.value().ts());
            context.forward(record);
          }
        }, "seen");
    clean.to(prefix + ".events_clean", Produced.with(Serdes.String(), EcommerceTopology.json(Click.class)));

    // Conversion per 5-minute window, emitted once closed. Late events are dropped, not sent to a
    // late topic with the reason.
    clean.groupBy((id, e) -> "all", Grouped.with(Serdes.String(), EcommerceTopology.json(Click.class)))
        .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMinutes(5), Duration.ofSeconds(30)))
        .aggregate(() -> new Sessions(new TreeMap<>()), (k, e, s) -> {
          Map<String, Boolean> m = new TreeMap<>(s.purchased());
          m.merge(e.session_id(), "purchase".equals(e.event_type()), Boolean::logicalOr);
          return new Sessions(m);
        }, Materialized.with(Serdes.String(), EcommerceTopology.json(Sessions.class)))
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
        .toStream()
        .map((w, s) -> {
          long converted = s.purchased().values().stream().filter(b -> b).count();
          String start = Instant.ofEpochMilli(w.window().start()).toString();
          return KeyValue.pair(start, new Conversion(start, Instant.ofEpochMilli(w.window().end()).toString(), s.purchased().size(), converted,
              Math.round((double) converted / s.purchased().size() * 10_000) / 10_000.0));
        })
        .to(prefix + ".conversion_5m", Produced.with(Serdes.String(), EcommerceTopology.json(Conversion.class)));

    // Users as a type 2 dimension: the current version per user in a store.
    builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("versions"), Serdes.String(), EcommerceTopology.json(UserVersion.class)));
    builder.stream(prefix + ".public.users", Consumed.with(Serdes.String(), Serdes.ByteArray()))
        .process(() -> new Processor<String, byte[], String, UserVersion>() {
          private ProcessorContext<String, UserVersion> context;
          private KeyValueStore<String, UserVersion> versions;

          @Override
          public void init(ProcessorContext<String, UserVersion> context) {
            this.context = context;
            this.versions = context.getStateStore("versions");
          }

          @Override
          public void process(Record<String, byte[]> record) {
            try {
              var change = EcommerceTopology.JSON.readTree(record.value());
              String at = Instant.ofEpochMilli(change.get("source").get("ts_ms").asLong()).toString();
              UserVersion current = versions.get(record.key());
              if (current != null && current.is_current()) {
                UserVersion closed = new UserVersion(current.user_id(), current.email(), current.tier(), current.country(), current.version(), current.valid_from(), at, false);
                context.forward(record.withKey(record.key() + ":" + current.version()).withValue(closed));
              }
              var after = change.get("after");
              if (after == null || after.isNull()) {
                if (current != null) versions.put(record.key(), new UserVersion(current.user_id(), current.email(), current.tier(), current.country(), current.version(), current.valid_from(), at, false));
                return;
              }
              User u = EcommerceTopology.JSON.treeToValue(after, User.class);
              UserVersion opened = new UserVersion(u.user_id(), u.email(), u.tier(), u.country(), current == null ? 1 : current.version() + 1, at, null, true);
              versions.put(record.key(), opened);
              context.forward(record.withKey(record.key() + ":" + opened.version()).withValue(opened));
            } catch (Exception e) {
              throw new IllegalStateException(e);
            }
          }
        }, "versions")
        .to(prefix + ".users_dim", Produced.with(Serdes.String(), EcommerceTopology.json(UserVersion.class)));
    return builder.build();
  }
}
