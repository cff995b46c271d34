import { request } from 'node:http';

/**
 * A raw HTTP POST that sends exactly the headers given: `fetch` would drop or rewrite a signed `Host` header, and the
 * gateway tests sign requests by hand (SigV4 over the AWS CLI's form-encoded protocol).
 */
export function rawPost(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
