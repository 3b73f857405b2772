/**
 * The demo e-commerce schema (users, products, orders, order_items), written down as data so
 * that the Kafka Connect schemas in change events are built from the same description the
 * generator fills. The DDL it mirrors is PostgreSQL:
 *
 *   users(user_id SERIAL PK, email VARCHAR NOT NULL, first_name, last_name, created_at TIMESTAMP,
 *         updated_at TIMESTAMP, status VARCHAR DEFAULT 'active')
 *   products(product_id SERIAL PK, name VARCHAR NOT NULL, category, price DECIMAL(10,2) NOT NULL,
 *            stock_quantity INTEGER DEFAULT 0, created_at, updated_at)
 *   orders(order_id SERIAL PK, user_id INTEGER REFERENCES users, total_amount DECIMAL(10,2) NOT NULL,
 *          status VARCHAR DEFAULT 'pending', created_at, updated_at)
 *   order_items(item_id SERIAL PK, order_id INTEGER REFERENCES orders, product_id INTEGER
 *               REFERENCES products, quantity INTEGER NOT NULL, unit_price DECIMAL(10,2) NOT NULL,
 *               created_at)
 *
 * Column types follow Debezium's PostgreSQL mapping: SERIAL/INTEGER → int32, VARCHAR → string,
 * TIMESTAMP → int64 `io.debezium.time.MicroTimestamp` (µs since the epoch, the default
 * `time.precision.mode=adaptive`). DECIMAL is emitted as a JSON double, as Debezium does with
 * `decimal.handling.mode=double`; its default, `precise`, would write base64 bytes of the
 * unscaled value, which nobody can read in a console consumer.
 */

/** The logical column types used by the model. */
export type ColumnType = 'int32' | 'string' | 'decimal' | 'timestamp';

/** One table column. `default` is the DDL default as Debezium reports it in the schema. */
export type Column = {
  readonly name: string;
  readonly type: ColumnType;
  /** Nullable in the DDL (not NOT NULL, not part of the primary key). */
  readonly optional: boolean;
  /**
   * The default Debezium puts in the field schema: the literal for `DEFAULT 'active'`, and
   * Debezium's placeholder 0 for generated defaults (SERIAL's nextval, CURRENT_TIMESTAMP).
   */
  readonly default?: string | number;
};

/** The four table names, also the last segment of their topic names. */
export type TableName = 'users' | 'products' | 'orders' | 'order_items';

/** One table: its columns in DDL order and its single-column primary key. */
export type Table = {
  readonly name: TableName;
  readonly primaryKey: string;
  readonly columns: readonly Column[];
};

/** A row as it appears in a change event: decimals as numbers, timestamps as µs since the epoch. */
export type Row = Readonly<Record<string, string | number | null>>;

/** A `users` row. */
export type UserRow = {
  user_id: number;
  email: string;
  first_name: string | null;
  last_name: string | null;
  created_at: number | null;
  updated_at: number | null;
  status: UserStatus | null;
};
export type UserStatus = 'active' | 'inactive';

/** A `products` row. `price` is in currency units with two decimals, e.g. 19.99. */
export type ProductRow = {
  product_id: number;
  name: string;
  category: string | null;
  price: number;
  stock_quantity: number | null;
  created_at: number | null;
  updated_at: number | null;
};

/** An `orders` row. */
export type OrderRow = {
  order_id: number;
  user_id: number | null;
  total_amount: number;
  status: OrderStatus | null;
  created_at: number | null;
  updated_at: number | null;
};
export type OrderStatus = 'pending' | 'paid' | 'shipped' | 'delivered' | 'cancelled';

/** An `order_items` row. */
export type OrderItemRow = {
  item_id: number;
  order_id: number | null;
  product_id: number | null;
  quantity: number;
  unit_price: number;
  created_at: number | null;
};

const serial = (name: string): Column => ({ name, type: 'int32', optional: false, default: 0 });
const timestamp = (name: string): Column => ({ name, type: 'timestamp', optional: true, default: 0 });

/** The e-commerce tables, in the order a snapshot reads them. */
export const TABLES: Readonly<Record<TableName, Table>> = {
  users: {
    name: 'users',
    primaryKey: 'user_id',
    columns: [
      serial('user_id'),
      { name: 'email', type: 'string', optional: false },
      { name: 'first_name', type: 'string', optional: true },
      { name: 'last_name', type: 'string', optional: true },
      timestamp('created_at'),
      timestamp('updated_at'),
      { name: 'status', type: 'string', optional: true, default: 'active' },
    ],
  },
  products: {
    name: 'products',
    primaryKey: 'product_id',
    columns: [
      serial('product_id'),
      { name: 'name', type: 'string', optional: false },
      { name: 'category', type: 'string', optional: true },
      { name: 'price', type: 'decimal', optional: false },
      { name: 'stock_quantity', type: 'int32', optional: true, default: 0 },
      timestamp('created_at'),
      timestamp('updated_at'),
    ],
  },
  orders: {
    name: 'orders',
    primaryKey: 'order_id',
    columns: [
      serial('order_id'),
      { name: 'user_id', type: 'int32', optional: true },
      { name: 'total_amount', type: 'decimal', optional: false },
      { name: 'status', type: 'string', optional: true, default: 'pending' },
      timestamp('created_at'),
      timestamp('updated_at'),
    ],
  },
  order_items: {
    name: 'order_items',
    primaryKey: 'item_id',
    columns: [
      serial('item_id'),
      { name: 'order_id', type: 'int32', optional: true },
      { name: 'product_id', type: 'int32', optional: true },
      { name: 'quantity', type: 'int32', optional: false },
      { name: 'unit_price', type: 'decimal', optional: false },
      timestamp('created_at'),
    ],
  },
};

/** The table names in snapshot order. */
export const TABLE_NAMES: readonly TableName[] = ['users', 'products', 'orders', 'order_items'];

/** The database and schema of the simulated source. */
export const SOURCE_NAMES = { db: 'ecommerce', schema: 'public' } as const;

/** The default Debezium `topic.prefix` (the logical server name). */
export const DEFAULT_TOPIC_PREFIX = 'ecommerce';

/** Kafka's longest topic name; the prefix leaves room for the longest `.public.<table>` suffix. */
const KAFKA_TOPIC_MAX_LENGTH = 249;

/** The longest `topic.prefix` whose topics Kafka still accepts. */
export const TOPIC_PREFIX_MAX_LENGTH =
  KAFKA_TOPIC_MAX_LENGTH - Math.max(...TABLE_NAMES.map((table) => `.${SOURCE_NAMES.schema}.${table}`.length));

/** What a valid `topic.prefix` looks like, for error messages. */
export const TOPIC_PREFIX_RULE = `non-empty, at most ${TOPIC_PREFIX_MAX_LENGTH} characters from [a-zA-Z0-9._-]`;

/**
 * Whether `prefix` is a legal `topic.prefix`: Kafka topic characters only (Debezium checks the
 * same), so it also needs no escaping in JSON, and short enough for the longest topic.
 */
export function isValidTopicPrefix(prefix: string): boolean {
  return /^[a-zA-Z0-9._-]+$/.test(prefix) && prefix.length <= TOPIC_PREFIX_MAX_LENGTH;
}

/**
 * The Debezium topic of a table, e.g. `ecommerce.public.orders`. Debezium derives the Connect
 * schema names of the table's records (`<topic>.Key`, `.Value`, `.Envelope`) from the same string.
 */
export function topicOf(topicPrefix: string, table: TableName): string {
  return `${topicPrefix}.${SOURCE_NAMES.schema}.${table}`;
}
