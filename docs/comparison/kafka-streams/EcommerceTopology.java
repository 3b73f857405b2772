// The ecommerce job (examples/ecommerce/job.ts) written with Kafka Streams' DSL (4.1), to compare
// lengths honestly (docs/comparison/README.md). It compiles against kafka-streams 4.1.1 and
// jackson-databind 2.21 (the command is in the README); it has not been run. Where the DSL cannot
// say what the Eddy job does, a comment says so instead of adding the code.
package eddy.comparison;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.SessionWindows;
import org.apache.kafka.streams.kstream.Suppressed;
import org.apache.kafka.streams.processor.api.FixedKeyProcessor;
import org.apache.kafka.streams.processor.api.FixedKeyProcessorContext;
import org.apache.kafka.streams.processor.api.FixedKeyRecord;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

public final class EcommerceTopology {
  static final ObjectMapper JSON = new ObjectMapper().configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);
  static final long WINDOW_MS = 5 * 60_000L;
  static final int LOW = 10, CRITICAL = 3;

  public record Order(int order_id, Integer user_id, double total_amount, String status, Long created_at) {}
  public record Item(int item_id, Integer order_id, Integer product_id, int quantity, double unit_price) {}
  public record Product(int product_id, String name, String category, Integer stock_quantity) {}
  public record Line(int item_id, int order_id, String category, long cents) {}
  public record Lines(Map<Integer, Line> byItem) {}
  public record Contribution(int order_id, long created_ms, long cents, Map<String, Long> categories) {}
  public record Window(long orders, long cents, Map<String, Long> categories) {}
  public record Revenue(String window_start, String window_end, double total_revenue, long order_count, double avg_order_value, String top_category) {}
  public record Alert(int product_id, String product_name, int current_stock, int threshold, String alert_level) {}
  public record Session(long orders, long cents) {}
  public record UserSession(int user_id, String session_start, String session_end, long orders, double total_spent) {}

  /** A JSON serde per type: Kafka Streams has none built in. */
  static <T> Serde<T> json(Class<T> type) {
    Serializer<T> serializer = (topic, value) -> {
      try {
        return value == null ? null : JSON.writeValueAsBytes(value);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    };
    Deserializer<T> deserializer = (topic, bytes) -> {
      try {
        return bytes == null ? null : JSON.readValue(bytes, type);
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    };
    return Serdes.serdeFrom(serializer, deserializer);
  }

  /** A Debezium topic as a table keyed by its primary key: `after`, or a tombstone on delete. */
  static <T> KTable<Integer, T> table(StreamsBuilder builder, String topic, String key, Class<T> type) {
    // Debezium's unchanged-TOAST placeholder and key-only `before` images are not handled here;
    // the Eddy job fills the placeholder from the last row (applyDebezium).
    return builder.stream(topic, Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
        .map((k, v) -> {
          try {
            JsonNode keyNode = JSON.readTree(k);
            JsonNode env = v == null ? null : JSON.readTree(v);
            int id = (keyNode.has("payload") ? keyNode.get("payload") : keyNode).get(key).asInt();
            JsonNode payload = env == null ? null : (env.has("payload") ? env.get("payload") : env);
            JsonNode after = payload == null ? null : payload.get("after");
            return KeyValue.pair(id, after == null || after.isNull() ? null : JSON.treeToValue(after, type));
          } catch (Exception e) {
            throw new IllegalStateException(e); // a bad record stops the task; Eddy dead-letters it
          }
        })
        .toTable(Materialized.with(Serdes.Integer(), json(type)));
  }

  static String iso(long ms) {
    return Instant.ofEpochMilli(ms).toString();
  }

  public static Topology build(String prefix) {
    StreamsBuilder builder = new StreamsBuilder();
    KTable<Integer, Order> orders = table(builder, prefix + ".public.orders", "order_id", Order.class);
    KTable<Integer, Item> items = table(builder, prefix + ".public.order_items", "item_id", Item.class);
    KTable<Integer, Product> products = table(builder, prefix + ".public.products", "product_id", Product.class);

    // order_items ⋈ products (foreign key), then the lines of each order.
    KTable<Integer, Line> lines = items.filter((id, i) -> i.order_id() != null && i.product_id() != null)
        .join(products, Item::product_id, (i, p) -> new Line(i.item_id(), i.order_id(), p.category(), Math.round(i.quantity() * i.unit_price() * 100)),
            Materialized.with(Serdes.Integer(), json(Line.class)));
    KTable<Integer, Lines> linesPerOrder = lines.groupBy((id, l) -> KeyValue.pair(l.order_id(), l), Grouped.with(Serdes.Integer(), json(Line.class)))
        .aggregate(() -> new Lines(new TreeMap<>()),
            (order, l, agg) -> { Map<Integer, Line> m = new TreeMap<>(agg.byItem()); m.put(l.item_id(), l); return new Lines(m); },
            (order, l, agg) -> { Map<Integer, Line> m = new TreeMap<>(agg.byItem()); m.remove(l.item_id()); return new Lines(m); },
            Materialized.with(Serdes.Integer(), json(Lines.class)));

    // Each order's contribution to its window; cancelled orders contribute nothing.
    KTable<Integer, Contribution> contributions = orders.filter((id, o) -> !"cancelled".equals(o.status()) && o.created_at() != null)
        .leftJoin(linesPerOrder, (o, ls) -> {
          Map<String, Long> categories = new TreeMap<>();
          if (ls != null) for (Line l : ls.byItem().values()) if (l.category() != null) categories.merge(l.category(), l.cents(), Long::sum);
          return new Contribution(o.order_id(), o.created_at() / 1000, Math.round(o.total_amount() * 100), categories);
        }, Materialized.with(Serdes.Integer(), json(Contribution.class)));

    // Per window: sums with retraction (adder and subtractor), as an upsert stream.
    KTable<String, Window> windows = contributions
        .groupBy((id, c) -> KeyValue.pair(iso(c.created_ms() - c.created_ms() % WINDOW_MS), c), Grouped.with(Serdes.String(), json(Contribution.class)))
        .aggregate(() -> new Window(0, 0, new TreeMap<>()),
            (w, c, agg) -> add(agg, c, 1),
            (w, c, agg) -> add(agg, c, -1),
            Materialized.<String, Window, KeyValueStore<Bytes, byte[]>>as("revenue-windows").withKeySerde(Serdes.String()).withValueSerde(json(Window.class)));
    windows.toStream()
        .mapValues((start, w) -> w == null || w.orders() == 0 ? null : revenue(start, w))
        .to(prefix + ".revenue_5m", Produced.with(Serdes.String(), json(Revenue.class)));
    // Revenue windows never expire here, and corrections after a retention cannot go to a late
    // topic without a custom processor; the Eddy job does both (windowRetentionMs).

    // Inventory alerts: one per crossing, which needs the previous level: a state store.
    builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore("levels"), Serdes.Integer(), Serdes.String()));
    products.toStream()
        .processValues(() -> new FixedKeyProcessor<Integer, Product, Alert>() {
          private FixedKeyProcessorContext<Integer, Alert> context;
          private KeyValueStore<Integer, String> levels;

          @Override
          public void init(FixedKeyProcessorContext<Integer, Alert> context) {
            this.context = context;
            this.levels = context.getStateStore("levels");
          }

          @Override
          public void process(FixedKeyRecord<Integer, Product> record) {
            Product p = record.value();
            if (p == null) {
              levels.delete(record.key());
              return;
            }
            int stock = p.stock_quantity() == null ? 0 : p.stock_quantity();
            String level = stock <= 0 ? "out_of_stock" : stock < CRITICAL ? "critical" : stock < LOW ? "low" : null;
            String before = levels.get(record.key());
            if (level != null && !level.equals(before)) {
              int threshold = level.equals("low") ? LOW : level.equals("critical") ? CRITICAL : 0;
              context.forward(record.withValue(new Alert(p.product_id(), p.name(), stock, threshold, level)));
            }
            if (level == null) levels.delete(record.key());
            else levels.put(record.key(), level);
          }
        }, "levels")
        .to(prefix + ".inventory_alerts", Produced.with(Serdes.Integer(), json(Alert.class)));

    // User sessions of placed orders, emitted when closed. Late orders are dropped (a metric),
    // not sent to a late topic with the reason as in the Eddy job.
    KStream<Integer, Order> placed = builder.stream(prefix + ".public.orders", Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()))
        .flatMapValues(v -> {
          try {
            JsonNode env = v == null ? null : JSON.readTree(v);
            JsonNode payload = env == null ? null : (env.has("payload") ? env.get("payload") : env);
            boolean created = payload != null && ("c".equals(payload.path("op").asText()) || "r".equals(payload.path("op").asText()));
            return created ? List.of(JSON.treeToValue(payload.get("after"), Order.class)) : List.<Order>of();
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        })
        .selectKey((k, o) -> o.user_id())
        .filter((user, o) -> user != null);
    // Event time would need a TimestampExtractor reading created_at from the envelope (not shown).
    placed.groupByKey(Grouped.with(Serdes.Integer(), json(Order.class)))
        .windowedBy(SessionWindows.ofInactivityGapAndGrace(Duration.ofMinutes(30), Duration.ofMinutes(1)))
        .aggregate(() -> new Session(0, 0),
            (user, o, s) -> new Session(s.orders() + 1, s.cents() + Math.round(o.total_amount() * 100)),
            (user, a, b) -> new Session(a.orders() + b.orders(), a.cents() + b.cents()),
            Materialized.with(Serdes.Integer(), json(Session.class)))
        .suppress(Suppressed.untilWindowCloses(Suppressed.BufferConfig.unbounded()))
        .toStream()
        .filter((w, s) -> s != null)
        .map((w, s) -> KeyValue.pair(w.key(), new UserSession(w.key(), iso(w.window().start()), iso(w.window().end() + Duration.ofMinutes(30).toMillis()), s.orders(), s.cents() / 100.0)))
        .to(prefix + ".user_activity", Produced.with(Serdes.Integer(), json(UserSession.class)));
    return builder.build();
  }

  static Window add(Window w, Contribution c, int sign) {
    Map<String, Long> categories = new TreeMap<>(w.categories());
    c.categories().forEach((k, v) -> categories.merge(k, sign * v, Long::sum));
    categories.values().removeIf(v -> v == 0);
    return new Window(w.orders() + sign, w.cents() + sign * c.cents(), categories);
  }

  static Revenue revenue(String start, Window w) {
    List<Map.Entry<String, Long>> ranked = new ArrayList<>(w.categories().entrySet());
    ranked.sort((a, b) -> b.getValue().equals(a.getValue()) ? a.getKey().compareTo(b.getKey()) : Long.compare(b.getValue(), a.getValue()));
    String end = iso(Instant.parse(start).toEpochMilli() + WINDOW_MS);
    return new Revenue(start, end, w.cents() / 100.0, w.orders(), Math.round((double) w.cents() / w.orders()) / 100.0, ranked.isEmpty() ? null : ranked.get(0).getKey());
  }
}
