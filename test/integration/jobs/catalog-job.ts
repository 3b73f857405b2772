/**
 * A small streams job for the truncate test on a cluster (test/integration/truncate.test.ts): the
 * Debezium topic `<prefix>.public.products` as a table, written out as an upsert table and counted
 * per category. `EDDY_CATALOG` holds `{"prefix", "partitions"}`.
 */
import { count, debezium, kafkaSink, kafkaSource, streamsJob } from '../../../job/api.ts';

export type Product = { product_id: number; category: string; price: number };

const { prefix, partitions } = JSON.parse(process.env.EDDY_CATALOG ?? '{"prefix":"catalog","partitions":4}') as { prefix: string; partitions: number };

export default streamsJob(
  {
    name: prefix,
    sources: { products: kafkaSource(`${prefix}.public.products`, { format: debezium<Product>(), partitions }) },
    sinks: { rows: kafkaSink(`${prefix}.products`, { upsert: true, partitions }), perCategory: kafkaSink(`${prefix}.per_category`, { upsert: true, partitions }) },
  },
  (b) => {
    const products = b.table('products', 'product_id');
    products.to('rows');
    products.groupBy((p) => p.category).aggregate('perCategory', { products: count() }).to('perCategory');
  },
);
