axis_async_fifo.v
