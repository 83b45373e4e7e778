"""Live broadcasts: going live, reconnects, ending and stopping a stream."""
