/* The bench container's upload endpoint: HTTP/1.1 on 127.0.0.1:8081 (or the port argv[1] names), one connection at a time, keep-alive. Reads a
 * request's whole Content-Length body (and discards it) before it answers "received", so a proxy in front has
 * forwarded every byte when the client sees the answer. Built static by bench/public/run.sh (busybox httpd's CGI
 * path tops out near 90 MB/s, below what the proxies are measured at). */
#define _GNU_SOURCE
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[1 << 20];

static void serve(int fd) {
    size_t have = 0;
    for (;;) {
        char *end;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            if (have == sizeof buf) return;
            ssize_t n = read(fd, buf + have, sizeof buf - have);
            if (n <= 0) return;
            have += (size_t)n;
        }
        size_t head = (size_t)(end - buf) + 4;
        long long length = -1;
        for (char *line = buf; line < end; line = strstr(line, "\r\n") + 2)
            if (strncasecmp(line, "Content-Length:", 15) == 0) length = atoll(line + 15);
        static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nreceived\n";
        static const char no[] = "HTTP/1.1 411 Length Required\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        if (length < 0) { (void)!write(fd, no, sizeof no - 1); return; }
        size_t inbuf = have - head;
        unsigned long long left = (unsigned long long)length;
        if (inbuf >= left) { memmove(buf, buf + head + left, inbuf - left); have = inbuf - left; left = 0; }
        else { left -= inbuf; have = 0; }
        while (left > 0) {
            ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) return;
            if ((unsigned long long)n > left) { memmove(buf, buf + left, (size_t)n - left); have = (size_t)n - left; left = 0; }
            else left -= (unsigned long long)n;
        }
        if (write(fd, ok, sizeof ok - 1) != (ssize_t)(sizeof ok - 1)) return;
    }
}

int main(int argc, char **argv) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(argc > 1 ? atoi(argv[1]) : 8081) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 64)) { perror("upload-sink"); return 1; }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        serve(c);
        close(c);
    }
}
