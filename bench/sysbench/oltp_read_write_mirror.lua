#!/usr/bin/env sysbench
-- sysbench's oltp_read_write, with every write also applied to sbtest<N>_mirror
-- in the same transaction, so that after an online ALTER the migrated table can
-- be compared with the mirror row by row (a lost, extra or wrong row shows).
-- Reads are oltp_read_write's own prepared statements; the writes run as text
-- with the same random values on both tables (ids and digits-and-dashes strings
-- only, nothing to escape).
require("oltp_common")

function prepare_statements()
   if not sysbench.opt.skip_trx then
      prepare_begin()
      prepare_commit()
   end
   prepare_point_selects()
   if sysbench.opt.range_selects then
      prepare_simple_ranges()
      prepare_sum_ranges()
      prepare_order_ranges()
      prepare_distinct_ranges()
   end
end

-- oltp_common keeps these two local: the same definitions.
local function get_table_num()
   return sysbench.rand.uniform(1, sysbench.opt.tables)
end

local function get_id()
   return sysbench.rand.default(1, sysbench.opt.table_size)
end

local function both(tnum, fmt, ...)
   con:query(string.format(fmt, "sbtest" .. tnum, ...))
   con:query(string.format(fmt, "sbtest" .. tnum .. "_mirror", ...))
end

function event()
   if not sysbench.opt.skip_trx then
      begin()
   end
   execute_point_selects()
   if sysbench.opt.range_selects then
      execute_simple_ranges()
      execute_sum_ranges()
      execute_order_ranges()
      execute_distinct_ranges()
   end
   local tnum = get_table_num()
   for i = 1, sysbench.opt.index_updates do
      both(tnum, "UPDATE %s SET k=k+1 WHERE id=%d", get_id())
   end
   for i = 1, sysbench.opt.non_index_updates do
      both(tnum, "UPDATE %s SET c='%s' WHERE id=%d", get_c_value(), get_id())
   end
   for i = 1, sysbench.opt.delete_inserts do
      local id = get_id()
      local k = get_id()
      local c = get_c_value()
      local pad = get_pad_value()
      both(tnum, "DELETE FROM %s WHERE id=%d", id)
      both(tnum, "INSERT INTO %s (id, k, c, pad) VALUES (%d, %d, '%s', '%s')", id, k, c, pad)
   end
   if not sysbench.opt.skip_trx then
      commit()
   end
end
