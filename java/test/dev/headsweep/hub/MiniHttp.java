package dev.headsweep.hub;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A tiny HTTP/1.1 server on 127.0.0.1 for tests, one connection per request ({@code Connection:
 * close}), with full control over what goes on the wire: any headers on a HEAD answer, and a body
 * that stops after some bytes with the connection closed, as a dropped download does.
 */
final class MiniHttp implements AutoCloseable {
    /** A request: method, raw path (still %-encoded) and headers (names in lower case). */
    record Request(String method, String path, Map<String, String> headers) {
        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    /** The answer a handler fills in. */
    static final class Response {
        int status = 200;
        final Map<String, String> headers = new LinkedHashMap<>();
        byte[] body = new byte[0];
        /** Content-Length to announce; the body's length when negative. */
        long contentLength = -1;
        /** Close the connection after this many body bytes; never when negative. */
        long dropAfter = -1;

        Response header(String name, String value) {
            headers.put(name, value);
            return this;
        }
    }

    @FunctionalInterface
    interface Handler {
        void handle(Request request, Response response) throws IOException;
    }

    private final ServerSocket server;
    private final Handler handler;
    private final Thread acceptor;

    MiniHttp(Handler handler) throws IOException {
        this.handler = handler;
        this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.acceptor = new Thread(this::acceptLoop, "mini-http-" + server.getLocalPort());
        acceptor.setDaemon(true);
        acceptor.start();
    }

    int port() {
        return server.getLocalPort();
    }

    String base() {
        return "http://127.0.0.1:" + port();
    }

    @Override
    public void close() throws IOException {
        server.close();
    }

    private void acceptLoop() {
        while (!server.isClosed()) {
            try {
                Socket s = server.accept();
                Thread t = new Thread(() -> serve(s), "mini-http-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return; // closed
            }
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            socket.setSoTimeout(20_000);
            InputStream in = new BufferedInputStream(socket.getInputStream());
            String requestLine = line(in);
            if (requestLine == null || requestLine.isEmpty()) {
                return;
            }
            String[] parts = requestLine.split(" ");
            Map<String, String> headers = new LinkedHashMap<>();
            for (String h; (h = line(in)) != null && !h.isEmpty(); ) {
                int colon = h.indexOf(':');
                if (colon > 0) {
                    headers.put(h.substring(0, colon).strip().toLowerCase(Locale.ROOT), h.substring(colon + 1).strip());
                }
            }
            Request req = new Request(parts[0], parts[1], headers);
            Response resp = new Response();
            handler.handle(req, resp);
            long length = resp.contentLength >= 0 ? resp.contentLength : resp.body.length;
            StringBuilder head = new StringBuilder("HTTP/1.1 " + resp.status + " " + reason(resp.status) + "\r\n");
            resp.headers.forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
            if (!resp.headers.containsKey("Content-Length")) {
                head.append("Content-Length: ").append(length).append("\r\n");
            }
            head.append("Connection: close\r\n\r\n");
            OutputStream out = socket.getOutputStream();
            out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
            if (!req.method().equals("HEAD")) {
                int n = resp.dropAfter >= 0 ? (int) Math.min(resp.dropAfter, resp.body.length) : resp.body.length;
                out.write(resp.body, 0, n);
            }
            out.flush();
            socket.shutdownOutput();
        } catch (IOException e) {
            // the client went away; nothing to do
        }
    }

    private static String line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (int c; (c = in.read()) >= 0; ) {
            if (c == '\n') {
                String s = b.toString(StandardCharsets.ISO_8859_1);
                return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
            }
            b.write(c);
        }
        return b.size() == 0 ? null : b.toString(StandardCharsets.ISO_8859_1);
    }

    private static String reason(int status) {
        return switch (status) {
            case 200 -> "OK";
            case 206 -> "Partial Content";
            case 302 -> "Found";
            case 307 -> "Temporary Redirect";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 416 -> "Range Not Satisfiable";
            default -> "Status";
        };
    }
}
