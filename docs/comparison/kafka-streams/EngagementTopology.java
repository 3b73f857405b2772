// The engagement job (examples/engagement/job.ts) written with Kafka Streams' DSL (4.1), to compare
// lengths honestly (docs/comparison/README.md). Compiles; not run. Comments say what it leaves out.
package eddy.comparison;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.Set;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;

public final class EngagementTopology {
  static final long WINDOW_MS = 10 * 60_000L;
  static final Set<String> TYPES = Set.of("play", "pause", "complete", "click");
  static final Set<String> DEVICES = Set.of("mobile", "desktop", "tablet");

  public record Content(String id, Integer length_seconds) {}
  public record Event(int id, String content_id, String user_id, String event_type, Long event_ts, Integer duration_ms, String device) {}
  public record Enriched(int id, String content_id, String user_id, String event_type, String event_ts, String device, int duration_ms, Double engagement_pct) {}
  public record Stats(long events, long completes, long known, long units) {}
  public record DeviceStats(String device, long events, Double avg_engagement_pct) {}
  public record WindowStats(String window_start, String window_end, long events, long completes, Double avg_engagement_pct) {}

  /** The event rules. Kafka Streams has no declarative validation; a failing event here throws,
   *  and `errors.dead.letter.queue.topic.name` (KIP-1034) sends it to a dead-letter topic, with the
   *  exception's message as the one reason (not every failure at once, as Eddy's rules give). */
  static Event valid(Event e) {
    if (e.content_id() == null || e.user_id() == null || e.event_type() == null || e.event_ts() == null || e.duration_ms() == null) throw new IllegalArgumentException("missing field");
    if (e.duration_ms() < 0) throw new IllegalArgumentException("duration_ms must be >= 0");
    if (!TYPES.contains(e.event_type())) throw new IllegalArgumentException("unknown event_type");
    if (e.device() != null && !DEVICES.contains(e.device())) throw new IllegalArgumentException("unknown device");
    return e;
  }

  static <T> KTable<String, T> table(StreamsBuilder builder, String topic, Class<T> type, boolean validate) {
    return builder.stream(topic, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
        .map((k, v) -> {
          try {
            JsonNode key = EcommerceTopology.JSON.readTree(k);
            JsonNode after = v == null ? null : EcommerceTopology.JSON.readTree(v).get("after");
            T row = after == null || after.isNull() ? null : EcommerceTopology.JSON.treeToValue(after, type);
            if (validate && row != null) valid((Event) row);
            return KeyValue.pair(key.get("id").asText(), row);
          } catch (RuntimeException e) {
            throw e;
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        })
        .toTable(Materialized.with(Serdes.String(), EcommerceTopology.json(type)));
  }

  static Double pct(Event e, Content c) {
    return c.length_seconds() == null || c.length_seconds() <= 0 ? null : Math.round(e.duration_ms() * 10.0 / c.length_seconds()) / 10_000.0;
  }

  public static Topology build(String prefix) {
    StreamsBuilder builder = new StreamsBuilder();
    KTable<String, Content> content = table(builder, prefix + ".public.content", Content.class, false);
    KTable<String, Event> events = table(builder, prefix + ".public.engagement_events", Event.class, true);
    KTable<String, Enriched> enriched = events.join(content, Event::content_id, (e, c) -> new Enriched(e.id(), e.content_id(), e.user_id(), e.event_type(),
        Instant.ofEpochMilli(e.event_ts() / 1000).toString(), e.device(), e.duration_ms(), pct(e, c)), Materialized.with(Serdes.String(), EcommerceTopology.json(Enriched.class)));
    enriched.toStream().to(prefix + ".enriched", Produced.with(Serdes.String(), EcommerceTopology.json(Enriched.class)));

    KTable<String, Stats> byDevice = aggregate(enriched, e -> e.device() == null ? "unknown" : e.device());
    byDevice.toStream()
        .mapValues((device, s) -> s == null || s.events() == 0 ? null : new DeviceStats(device, s.events(), avg(s)))
        .to(prefix + ".by_device", Produced.with(Serdes.String(), EcommerceTopology.json(DeviceStats.class)));
    KTable<String, Stats> byWindow = aggregate(enriched, e -> {
      long ms = Instant.parse(e.event_ts()).toEpochMilli();
      return Instant.ofEpochMilli(ms - ms % WINDOW_MS).toString();
    });
    byWindow.toStream()
        .mapValues((start, s) -> s == null || s.events() == 0 ? null
            : new WindowStats(start, Instant.ofEpochMilli(Instant.parse(start).toEpochMilli() + WINDOW_MS).toString(), s.events(), s.completes(), avg(s)))
        .to(prefix + ".engagement_10m", Produced.with(Serdes.String(), EcommerceTopology.json(WindowStats.class)));
    return builder.build();
  }

  static KTable<String, Stats> aggregate(KTable<String, Enriched> enriched, java.util.function.Function<Enriched, String> key) {
    return enriched.groupBy((id, e) -> KeyValue.pair(key.apply(e), e), Grouped.with(Serdes.String(), EcommerceTopology.json(Enriched.class)))
        .aggregate(() -> new Stats(0, 0, 0, 0), (k, e, s) -> add(s, e, 1), (k, e, s) -> add(s, e, -1),
            Materialized.with(Serdes.String(), EcommerceTopology.json(Stats.class)));
  }

  static Stats add(Stats s, Enriched e, int sign) {
    boolean known = e.engagement_pct() != null;
    return new Stats(s.events() + sign, s.completes() + ("complete".equals(e.event_type()) ? sign : 0),
        s.known() + (known ? sign : 0), s.units() + (known ? sign * Math.round(e.engagement_pct() * 10_000) : 0));
  }

  static Double avg(Stats s) {
    return s.known() == 0 ? null : Math.round((double) s.units() / s.known()) / 10_000.0;
  }
}
