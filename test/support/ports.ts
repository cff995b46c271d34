import { connect } from 'node:net';

/** True when something accepts TCP connections on 127.0.0.1:`port` (to check that a stopped runtime freed it). */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
