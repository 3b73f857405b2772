/**
 * What happens in the simulated shop, one database transaction at a time: sign-ups, profile
 * changes, orders with their items, order status changes, price and stock changes, and purges.
 * Each action mutates {@link ShopState} and returns the row changes of its transaction in commit
 * order, or null when it has nothing to act on (no open order to advance, …).
 *
 * The weights keep the live working set small: an order needs about 2.8 status changes to finish,
 * so advancing is weighted well over 2.8 times creating (fallbacks included); purging outweighs
 * cancelling (about 13% of orders).
 */
import { IllegalStateError } from '../../common/errors.ts';
import type { RowChange } from './envelope.ts';
import { emailFor, fakeLastName, fakeOrder, fakeOrderItem, fakeProduct, fakeUser, amountToCents, centsToAmount } from './fake-rows.ts';
import type { OrderItemRow, OrderRow, OrderStatus, Row, TableName } from './model.ts';
import type { SeededRandom } from './random.ts';
import type { ShopState } from './shop-state.ts';

/** What an action works with. `nowUs` is the transaction's commit time (CURRENT_TIMESTAMP). */
export type ActionContext = { state: ShopState; random: SeededRandom; nowUs: number };

/** One kind of transaction. */
export type ShopAction = { name: string; weight: number; run: (ctx: ActionContext) => RowChange[] | null };

/** Sign-ups stop at this many live users, to bound memory in long runs. */
export const USERS_MAX = 250_000;
/** New products stop at this many. */
export const PRODUCTS_MAX = 50_000;

const created = (table: TableName, after: Row): RowChange => ({ table, op: 'c', before: null, after });
const updated = (table: TableName, before: Row, after: Row): RowChange => ({ table, op: 'u', before, after });
const deleted = (table: TableName, before: Row): RowChange => ({ table, op: 'd', before, after: null });

function newUser({ state, random, nowUs }: ActionContext): RowChange[] | null {
  if (state.users.size >= USERS_MAX) return null;
  const row = fakeUser(random, state.allocateId('users'), nowUs);
  state.putUser(row);
  return [created('users', row)];
}

function updateUserProfile({ state, random, nowUs }: ActionContext): RowChange[] | null {
  const userId = state.activeUsers.pick(random);
  if (userId === undefined) return null;
  const before = state.user(userId);
  const lastName = fakeLastName(random);
  const after = { ...before, last_name: lastName, email: emailFor(before.first_name ?? '', lastName, userId), updated_at: nowUs };
  state.putUser(after);
  return [updated('users', before, after)];
}

function deactivateUser({ state, random, nowUs }: ActionContext): RowChange[] | null {
  const userId = state.activeUsers.pick(random);
  if (userId === undefined) return null;
  const before = state.user(userId);
  const after = { ...before, status: 'inactive' as const, updated_at: nowUs };
  state.putUser(after);
  return [updated('users', before, after)];
}

function deleteInactiveUser({ state, random }: ActionContext): RowChange[] | null {
  const userId = state.inactiveUsers.pick(random);
  if (userId === undefined || state.orderCount(userId) > 0) return null;
  const before = state.user(userId);
  state.deleteUser(userId);
  return [deleted('users', before)];
}

function newProduct({ state, random, nowUs }: ActionContext): RowChange[] | null {
  if (state.products.size >= PRODUCTS_MAX) return null;
  const row = fakeProduct(random, state.allocateId('products'), nowUs);
  state.putProduct(row);
  return [created('products', row)];
}

function updateProduct({ state, random, nowUs }: ActionContext): RowChange[] | null {
  const productId = state.productIds.pick(random);
  if (productId === undefined) return null;
  const before = state.product(productId);
  const stock = before.stock_quantity ?? 0;
  const change = random.chance(40)
    ? { price: centsToAmount(Math.max(99, Math.round((amountToCents(before.price) * random.int(85, 115)) / 100))) }
    : { stock_quantity: random.chance(30) ? stock + random.int(10, 200) : Math.max(0, stock - random.int(1, 20)) };
  const after = { ...before, ...change, updated_at: nowUs };
  state.putProduct(after);
  return [updated('products', before, after)];
}

function newOrder({ state, random, nowUs }: ActionContext): RowChange[] | null {
  const userId = state.activeUsers.pick(random);
  if (userId === undefined || state.productIds.size === 0) return null;
  const orderId = state.allocateId('orders');
  const productIds = new Set<number>();
  for (let wanted = random.int(1, 4); wanted > 0; wanted -= 1) {
    const productId = state.productIds.pick(random);
    if (productId !== undefined) productIds.add(productId);
  }
  const items: OrderItemRow[] = [...productIds].map((productId) =>
    fakeOrderItem(random, state.allocateId('order_items'), orderId, state.product(productId), nowUs));
  const order = fakeOrder(orderId, userId, items, nowUs);
  state.insertOrder(order, items);
  return [created('orders', order), ...items.map((item) => created('order_items', item))];
}

function advanceOrder({ state, random, nowUs }: ActionContext): RowChange[] | null {
  const orderId = state.openOrders.pick(random);
  if (orderId === undefined) return null;
  const before = state.order(orderId).order;
  const after: OrderRow = { ...before, status: nextStatus(before.status, random), updated_at: nowUs };
  state.updateOrder(after);
  return [updated('orders', before, after)];
}

/** pending → paid → shipped → delivered; pending and paid orders may be cancelled instead. */
function nextStatus(status: OrderStatus | null, random: SeededRandom): OrderStatus {
  switch (status) {
    case 'pending':
    case null:
      return random.chance(10) ? 'cancelled' : 'paid';
    case 'paid':
      return random.chance(3) ? 'cancelled' : 'shipped';
    case 'shipped':
      return 'delivered';
    case 'delivered':
    case 'cancelled':
      throw new IllegalStateError(`order in final status '${status}' picked to advance`);
  }
}

function purgeCancelledOrder({ state, random }: ActionContext): RowChange[] | null {
  const orderId = state.cancelledOrders.pick(random);
  if (orderId === undefined) return null;
  const { order, items } = state.order(orderId);
  state.deleteOrder(orderId);
  return [...items.map((item) => deleted('order_items', item)), deleted('orders', order)];
}

/** The actions and their relative weights. */
export const SHOP_ACTIONS: readonly ShopAction[] = [
  { name: 'newUser', weight: 6, run: newUser },
  { name: 'updateUserProfile', weight: 4, run: updateUserProfile },
  { name: 'deactivateUser', weight: 2, run: deactivateUser },
  { name: 'deleteInactiveUser', weight: 2, run: deleteInactiveUser },
  { name: 'newProduct', weight: 1, run: newProduct },
  { name: 'updateProduct', weight: 12, run: updateProduct },
  { name: 'newOrder', weight: 16, run: newOrder },
  { name: 'advanceOrder', weight: 70, run: advanceOrder },
  { name: 'purgeCancelledOrder', weight: 4, run: purgeCancelledOrder },
];

/** Tried in order when the drawn action has nothing to act on; the last always applies. */
export const FALLBACK_ACTIONS: readonly ShopAction['run'][] = [newOrder, newUser, newProduct, updateProduct];
