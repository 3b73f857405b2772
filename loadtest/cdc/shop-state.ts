/**
 * The simulated database behind the CDC generator: the rows that may still change, the next
 * SERIAL value of each table, and the bookkeeping that keeps foreign keys valid (an order's user
 * and an item's order and product exist when the row is written; a user is deleted only when no
 * order refers to it; an order's items are deleted before the order).
 *
 * Memory stays bounded by the live working set: a delivered order never changes again, so it and
 * its items are forgotten (only the per-user order count remembers them, to keep the user).
 */
import { IllegalStateError } from '../../common/errors.ts';
import { IdPool } from './id-pool.ts';
import type { OrderItemRow, OrderRow, ProductRow, TableName, UserRow } from './model.ts';

/** In-memory state of the simulated e-commerce database. */
export class ShopState {
  readonly users = new Map<number, UserRow>();
  readonly products = new Map<number, ProductRow>();
  /** Orders that may still change (pending, paid, shipped, cancelled), with their items. */
  readonly orders = new Map<number, { order: OrderRow; items: readonly OrderItemRow[] }>();

  readonly activeUsers = new IdPool();
  readonly inactiveUsers = new IdPool();
  readonly productIds = new IdPool();
  /** Orders that can advance: pending, paid or shipped. */
  readonly openOrders = new IdPool();
  /** Cancelled orders, which may be purged (items first, then the order). */
  readonly cancelledOrders = new IdPool();

  /** Rows in `orders` per user, forgotten (delivered) orders included. */
  private readonly orderCountByUser = new Map<number, number>();
  private readonly nextIds: Record<TableName, number> = { users: 1, products: 1, orders: 1, order_items: 1 };

  /** Takes the next SERIAL value of `table`. */
  allocateId(table: TableName): number {
    const id = this.nextIds[table];
    this.nextIds[table] = id + 1;
    return id;
  }

  user(userId: number): UserRow {
    return mustGet(this.users, userId, 'users');
  }

  product(productId: number): ProductRow {
    return mustGet(this.products, productId, 'products');
  }

  order(orderId: number): { order: OrderRow; items: readonly OrderItemRow[] } {
    return mustGet(this.orders, orderId, 'orders');
  }

  /** How many `orders` rows refer to the user. */
  orderCount(userId: number): number {
    return this.orderCountByUser.get(userId) ?? 0;
  }

  /** Inserts or updates a user. */
  putUser(row: UserRow): void {
    this.users.set(row.user_id, row);
    const active = row.status === 'active';
    (active ? this.activeUsers : this.inactiveUsers).add(row.user_id);
    (active ? this.inactiveUsers : this.activeUsers).delete(row.user_id);
  }

  deleteUser(userId: number): void {
    if (this.orderCount(userId) > 0) throw new IllegalStateError(`user ${userId} still has orders`);
    this.users.delete(userId);
    this.activeUsers.delete(userId);
    this.inactiveUsers.delete(userId);
  }

  /** Inserts or updates a product. Products are never deleted: items keep referring to them. */
  putProduct(row: ProductRow): void {
    this.products.set(row.product_id, row);
    this.productIds.add(row.product_id);
  }

  /** Inserts a new order with its items. */
  insertOrder(order: OrderRow, items: readonly OrderItemRow[]): void {
    if (order.user_id === null || !this.users.has(order.user_id)) {
      throw new IllegalStateError(`order ${order.order_id} refers to missing user ${order.user_id}`);
    }
    this.orders.set(order.order_id, { order, items });
    this.openOrders.add(order.order_id);
    this.orderCountByUser.set(order.user_id, this.orderCount(order.user_id) + 1);
  }

  /** Updates an order's row; a delivered order is forgotten, a cancelled one becomes purgeable. */
  updateOrder(order: OrderRow): void {
    const { items } = this.order(order.order_id);
    this.openOrders.delete(order.order_id);
    if (order.status === 'delivered') {
      this.orders.delete(order.order_id);
      return;
    }
    this.orders.set(order.order_id, { order, items });
    (order.status === 'cancelled' ? this.cancelledOrders : this.openOrders).add(order.order_id);
  }

  /** Deletes an order and its items. */
  deleteOrder(orderId: number): void {
    const { order } = this.order(orderId);
    this.orders.delete(orderId);
    this.openOrders.delete(orderId);
    this.cancelledOrders.delete(orderId);
    if (order.user_id === null) return;
    const remaining = this.orderCount(order.user_id) - 1;
    if (remaining > 0) this.orderCountByUser.set(order.user_id, remaining);
    else this.orderCountByUser.delete(order.user_id);
  }
}

function mustGet<V>(map: ReadonlyMap<number, V>, id: number, table: TableName): V {
  const value = map.get(id);
  if (value === undefined) throw new IllegalStateError(`${table} row ${id} is not in the simulated database`);
  return value;
}
