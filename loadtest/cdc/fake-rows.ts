/**
 * Plausible-looking rows for the demo tables (names, emails, products, prices). Kept apart from
 * the simulation so that the rules of the simulated shop read without the word lists.
 */
import type { OrderItemRow, OrderRow, ProductRow, UserRow } from './model.ts';
import type { SeededRandom } from './random.ts';

const FIRST_NAMES = ['Ada', 'Alan', 'Grace', 'Linus', 'Barbara', 'Ken', 'Margaret', 'Dennis', 'Frances', 'Edsger',
  'Radia', 'Niklaus', 'Hedy', 'John', 'Karen', 'Tim', 'Sophie', 'Leslie', 'Anita', 'Donald'] as const;
const LAST_NAMES = ['Lovelace', 'Turing', 'Hopper', 'Torvalds', 'Liskov', 'Thompson', 'Hamilton', 'Ritchie', 'Allen',
  'Dijkstra', 'Perlman', 'Wirth', 'Lamarr', 'Backus', 'Jones', 'Berners-Lee', 'Wilson', 'Lamport', 'Borg', 'Knuth'] as const;
const PRODUCTS: Readonly<Record<string, readonly string[]>> = {
  electronics: ['Headphones', 'Keyboard', 'Monitor', 'Webcam', 'Charger', 'Speaker'],
  books: ['Cookbook', 'Novel', 'Atlas', 'Field Guide', 'Biography'],
  home: ['Lamp', 'Kettle', 'Blanket', 'Vase', 'Teapot', 'Cutting Board'],
  sports: ['Yoga Mat', 'Water Bottle', 'Tennis Racket', 'Running Cap', 'Dumbbell'],
  toys: ['Puzzle', 'Kite', 'Building Blocks', 'Board Game', 'Yo-yo'],
  garden: ['Trowel', 'Watering Can', 'Seed Kit', 'Planter'],
};
const CATEGORIES = Object.keys(PRODUCTS);
const ADJECTIVES = ['Classic', 'Compact', 'Deluxe', 'Eco', 'Handmade', 'Pro', 'Smart', 'Vintage', 'Wireless', 'Everyday'] as const;

const US_PER_DAY = 86_400_000_000;

/** Converts integer cents to the DECIMAL(10,2) value carried as a double, e.g. 1999 → 19.99. */
export function centsToAmount(cents: number): number {
  return cents / 100;
}

/** Converts a DECIMAL(10,2) double back to integer cents, so sums stay exact. */
export function amountToCents(amount: number): number {
  return Math.round(amount * 100);
}

/** A new active user created at `nowUs`. */
export function fakeUser(random: SeededRandom, userId: number, nowUs: number): UserRow {
  const first = random.pick(FIRST_NAMES);
  const last = random.pick(LAST_NAMES);
  return {
    user_id: userId,
    email: emailFor(first, last, userId),
    first_name: first,
    last_name: last,
    created_at: nowUs,
    updated_at: nowUs,
    status: 'active',
  };
}

/** An email address unique to `userId` (the column is UNIQUE). */
export function emailFor(first: string, last: string, userId: number): string {
  return `${first}.${last}.${userId}@example.com`.toLowerCase().replace(/[^a-z0-9.@-]/g, '');
}

/** Another last name, for a profile update. */
export function fakeLastName(random: SeededRandom): string {
  return random.pick(LAST_NAMES);
}

/** A new product created at `nowUs`, priced 1.99 to 499.99, with 0 to 500 in stock. */
export function fakeProduct(random: SeededRandom, productId: number, nowUs: number): ProductRow {
  const category = random.pick(CATEGORIES);
  const noun = random.pick(PRODUCTS[category] ?? ['Thing']);
  return {
    product_id: productId,
    name: `${random.pick(ADJECTIVES)} ${noun}`,
    category,
    price: centsToAmount(random.int(199, 49_999)),
    stock_quantity: random.int(0, 500),
    created_at: nowUs,
    updated_at: nowUs,
  };
}

/** Backdates a snapshot row: created up to a year before `nowUs`, last updated since. */
export function backdate<T extends { created_at: number | null; updated_at: number | null }>(
  random: SeededRandom,
  row: T,
  nowUs: number,
): T {
  const createdUs = nowUs - random.int(US_PER_DAY / 24, 365 * US_PER_DAY);
  return { ...row, created_at: createdUs, updated_at: createdUs + random.int(0, nowUs - createdUs) };
}

/** A new pending order whose total is the sum of its items. */
export function fakeOrder(orderId: number, userId: number, items: readonly OrderItemRow[], nowUs: number): OrderRow {
  const totalCents = items.reduce((sum, item) => sum + item.quantity * amountToCents(item.unit_price), 0);
  return {
    order_id: orderId,
    user_id: userId,
    total_amount: centsToAmount(totalCents),
    status: 'pending',
    created_at: nowUs,
    updated_at: nowUs,
  };
}

/** A new order line for `product` at its current price, quantity 1 to 3. */
export function fakeOrderItem(random: SeededRandom, itemId: number, orderId: number, product: ProductRow, nowUs: number): OrderItemRow {
  return {
    item_id: itemId,
    order_id: orderId,
    product_id: product.product_id,
    quantity: random.int(1, 3),
    unit_price: product.price,
    created_at: nowUs,
  };
}
