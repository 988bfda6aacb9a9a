/* cli_probe: makes test signals and measures audio files for tests/test_cli.sh, so the shell
 * test needs nothing beyond this program and build/menhance.
 *
 *   cli_probe gen OUT RATE CHANNELS SECONDS KIND [SUBTYPE]
 *       KIND: music | impulse:N (0.5 at frame N, every channel) | sine:F (0.3, F Hz) | silence
 *             | music-left (channel 2 digital silence) | musicgap:A:B (digital silence from
 *             A s to B s) | musicdc:V (music plus a DC offset V) | square:F (full scale, F Hz)
 *             | noise:A (white, uniform in -A..A) | spike:N:V (one sample of value V at frame N)
 *       SUBTYPE: pcm16 | pcm24 | float (default pcm16; FLAC takes pcm16/pcm24)
 *   cli_probe info FILE      -> "frames rate channels container subtype"
 *   cli_probe peak FILE      -> "index value" of the largest |sample| over all channels
 *   cli_probe onset FILE T   -> first frame whose |sample| exceeds T times the peak
 *   cli_probe diff A B       -> "maxabs rms" of A - B (same frame count and channels)
 *   cli_probe rms FILE [FROM TO] -> RMS over all samples ("nan" if any is not finite), or over
 *                               the frames from FROM to TO seconds
 *   cli_probe mean FILE      -> mean over all samples (the DC offset)
 *   cli_probe maxabs FILE [CH [FROM TO]] -> largest |sample| of channel CH (1-based; 0 or
 *                               absent: all) between FROM and TO seconds (default: all)
 *   cli_probe freq FILE      -> frequency (Hz, 1 Hz grid, 50 Hz..min(8 kHz, Nyquist)) of the
 *                               strongest component of 0.25 s from the middle of channel 1
 *   cli_probe lag A B MAX    -> the shift of B against A (|shift| <= MAX) that correlates best,
 *                               on mono downmixes: 0 when B lines up with A
 * Exit status 0 on success, 1 on any error. */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int fail(const char *msg, const char *arg) {
    fprintf(stderr, "cli_probe: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
    return 1;
}

/* Reads a whole file as interleaved floats. */
static float *read_all(const char *path, SF_INFO *info) {
    memset(info, 0, sizeof *info);
    SNDFILE *sf = sf_open(path, SFM_READ, info);
    if (!sf) return NULL;
    size_t n = (size_t)info->frames * info->channels;
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (x && sf_readf_float(sf, x, info->frames) != info->frames) {
        free(x);
        x = NULL;
    }
    sf_close(sf);
    return x;
}

static unsigned rng_next(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return *s;
}

static int gen(int argc, char **argv) {
    if (argc < 7) return fail("gen OUT RATE CHANNELS SECONDS KIND [SUBTYPE]", NULL);
    const char *out = argv[2], *kind = argv[6], *sub = argc > 7 ? argv[7] : "pcm16";
    int rate = atoi(argv[3]), ch = atoi(argv[4]);
    long long frames = llround(atof(argv[5]) * rate);
    const char *ext = strrchr(out, '.');
    int major = ext && !strcasecmp(ext, ".flac") ? SF_FORMAT_FLAC : SF_FORMAT_WAV;
    int subtype = !strcmp(sub, "float")   ? SF_FORMAT_FLOAT
                  : !strcmp(sub, "pcm24") ? SF_FORMAT_PCM_24
                                          : SF_FORMAT_PCM_16;
    SF_INFO info = {.samplerate = rate, .channels = ch, .format = major | subtype};
    SNDFILE *sf = sf_open(out, SFM_WRITE, &info);
    if (!sf) return fail("cannot write", out);
    float *x = calloc((size_t)(frames ? frames : 1) * ch, sizeof *x);
    if (!x) return fail("out of memory", NULL);
    unsigned seed = 12345;
    if (!strcmp(kind, "music") || !strcmp(kind, "music-left") || !strncmp(kind, "musicgap:", 9) ||
        !strncmp(kind, "musicdc:", 8)) {
        /* a few decaying partials on a beat, plus a noise floor: something to enhance */
        static const double notes[] = {110.0, 220.0, 277.2, 329.6, 440.0, 659.3, 1318.5};
        for (long long i = 0; i < frames; i++) {
            double t = (double)i / rate, tb = fmod(t, 0.5);
            double env = exp(-tb * 6.0), v = 0;
            for (size_t k = 0; k < sizeof notes / sizeof notes[0]; k++)
                v += sin(2 * M_PI * notes[k] * t) / (double)(k + 1);
            for (int c = 0; c < ch; c++) {
                double noise = ((double)(rng_next(&seed) >> 8) / 16777216.0 - 0.5) * 0.05;
                x[i * ch + c] = (float)(0.3 * env * v * (c ? 0.8 : 1.0) + noise);
            }
        }
        if (!strcmp(kind, "music-left"))
            for (long long i = 0; i < frames; i++)
                for (int c = 1; c < ch; c++)
                    x[i * ch + c] = 0.0f;
        if (!strncmp(kind, "musicdc:", 8))
            for (long long i = 0; i < frames * ch; i++)
                x[i] += (float)atof(kind + 8);
        if (!strncmp(kind, "musicgap:", 9)) {
            const char *b = strchr(kind + 9, ':');
            if (!b) return fail("musicgap:A:B", kind);
            long long from = llround(atof(kind + 9) * rate), to = llround(atof(b + 1) * rate);
            for (long long i = from < 0 ? 0 : from; i < to && i < frames; i++)
                for (int c = 0; c < ch; c++)
                    x[i * ch + c] = 0.0f;
        }
    } else if (!strncmp(kind, "impulse:", 8)) {
        long long at = atoll(kind + 8);
        if (at < 0 || at >= frames) return fail("impulse position outside the signal", kind);
        for (int c = 0; c < ch; c++)
            x[at * ch + c] = 0.5f;
    } else if (!strncmp(kind, "sine:", 5)) {
        double f = atof(kind + 5);
        for (long long i = 0; i < frames; i++)
            for (int c = 0; c < ch; c++)
                x[i * ch + c] = (float)(0.3 * sin(2 * M_PI * f * (double)i / rate));
    } else if (!strncmp(kind, "square:", 7)) {
        double f = atof(kind + 7);
        for (long long i = 0; i < frames; i++)
            for (int c = 0; c < ch; c++)
                x[i * ch + c] = fmod((double)i * f / rate, 1.0) < 0.5 ? 1.0f : -1.0f;
    } else if (!strncmp(kind, "noise:", 6)) {
        double a = atof(kind + 6);
        for (long long i = 0; i < frames * ch; i++)
            x[i] = (float)(a * ((double)(rng_next(&seed) >> 8) / 8388608.0 - 1.0));
    } else if (!strncmp(kind, "spike:", 6)) {
        const char *v = strchr(kind + 6, ':');
        long long at = atoll(kind + 6);
        if (!v || at < 0 || at >= frames) return fail("spike:N:V inside the signal", kind);
        for (int c = 0; c < ch; c++)
            x[at * ch + c] = (float)atof(v + 1);
    } else if (strcmp(kind, "silence")) {
        return fail("unknown KIND", kind);
    }
    if (sf_writef_float(sf, x, frames) != frames) return fail("write failed", out);
    free(x);
    return sf_close(sf) ? fail("close failed", out) : 0;
}

static const char *container(int f) {
    switch (f & SF_FORMAT_TYPEMASK) {
    case SF_FORMAT_WAV:
        return "wav";
    case SF_FORMAT_FLAC:
        return "flac";
    case SF_FORMAT_OGG:
        return "ogg";
    case SF_FORMAT_AIFF:
        return "aiff";
    case SF_FORMAT_RF64:
        return "rf64";
    case SF_FORMAT_WAVEX:
        return "wavex";
    default:
        return "other";
    }
}

static const char *subtype(int f) {
    switch (f & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_PCM_16:
        return "pcm16";
    case SF_FORMAT_PCM_24:
        return "pcm24";
    case SF_FORMAT_FLOAT:
        return "float";
    case SF_FORMAT_VORBIS:
        return "vorbis";
    default:
        return "other";
    }
}

int main(int argc, char **argv) {
    if (argc < 3) return fail("usage: cli_probe gen|info|peak|onset|diff|rms ...", NULL);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "gen")) return gen(argc, argv);
    SF_INFO a;
    float *x = read_all(argv[2], &a);
    if (!x) return fail("cannot read", argv[2]);
    size_t n = (size_t)a.frames * a.channels;
    if (!strcmp(cmd, "info")) {
        printf("%lld %d %d %s %s\n", (long long)a.frames, a.samplerate, a.channels,
               container(a.format), subtype(a.format));
    } else if (!strcmp(cmd, "peak") || !strcmp(cmd, "onset")) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (fabsf(x[i]) > fabsf(x[best])) best = i;
        if (!strcmp(cmd, "peak")) {
            printf("%zu %g\n", n ? best / a.channels : 0, n ? x[best] : 0.0);
        } else {
            if (argc < 4) return fail("onset FILE THRESHOLD", NULL);
            float thr = (float)atof(argv[3]) * (n ? fabsf(x[best]) : 0.0f);
            size_t i = 0;
            while (i < n && !(fabsf(x[i]) > thr))
                i++;
            printf("%zu\n", i / a.channels);
        }
    } else if (!strcmp(cmd, "rms")) {
        size_t from = 0, to = n;
        if (argc > 4) {
            from = (size_t)llround(atof(argv[3]) * a.samplerate) * a.channels;
            to = (size_t)llround(atof(argv[4]) * a.samplerate) * a.channels;
            if (to > n) to = n;
            if (from > to) from = to;
        }
        double s = 0;
        for (size_t i = from; i < to; i++)
            s += isfinite(x[i]) ? (double)x[i] * x[i] : NAN;
        printf("%g\n", to > from ? sqrt(s / (double)(to - from)) : 0.0);
    } else if (!strcmp(cmd, "mean")) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += x[i];
        printf("%g\n", n ? s / (double)n : 0.0);
    } else if (!strcmp(cmd, "maxabs")) {
        int c = argc > 3 ? atoi(argv[3]) : 0;
        long long from = argc > 5 ? llround(atof(argv[4]) * a.samplerate) : 0;
        long long to = argc > 5 ? llround(atof(argv[5]) * a.samplerate) : a.frames;
        if (c < 0 || c > a.channels) return fail("no such channel", argv[3]);
        double m = 0;
        for (long long i = from < 0 ? 0 : from; i < to && i < a.frames; i++)
            for (int k = 0; k < a.channels; k++)
                if (c == 0 || k == c - 1) m = fmax(m, fabs((double)x[i * a.channels + k]));
        printf("%g\n", m);
    } else if (!strcmp(cmd, "freq")) {
        /* Goertzel on a 1 Hz grid: slow-ish but exact enough and dependency-free */
        long long m = a.frames / 2 < a.samplerate / 4 ? a.frames / 2 : a.samplerate / 4;
        long long start = (a.frames - m) / 2;
        double best = -1, bf = 0, top = a.samplerate / 2.0 < 8000 ? a.samplerate / 2.0 : 8000;
        for (double f = 50; f < top; f += 1.0) {
            double k = 2 * cos(2 * M_PI * f / a.samplerate), s1 = 0, s2 = 0;
            for (long long i = 0; i < m; i++) {
                double s0 = x[(start + i) * a.channels] + k * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            double p = s1 * s1 + s2 * s2 - k * s1 * s2;
            if (p > best) best = p, bf = f;
        }
        printf("%.0f\n", bf);
    } else if (!strcmp(cmd, "lag")) {
        SF_INFO b;
        if (argc < 5) return fail("lag A B MAX", NULL);
        float *y = read_all(argv[3], &b);
        if (!y) return fail("cannot read", argv[3]);
        long long na = a.frames, nb = b.frames, max = atoll(argv[4]), best = 0;
        double best_c = -INFINITY;
        for (long long lag = -max; lag <= max; lag++) {
            double c = 0;
            for (long long i = 0; i < na; i++) {
                long long j = i + lag;
                if (j < 0 || j >= nb) continue;
                double xa = 0, yb = 0;
                for (int k = 0; k < a.channels; k++)
                    xa += x[i * a.channels + k];
                for (int k = 0; k < b.channels; k++)
                    yb += y[j * b.channels + k];
                c += xa * yb;
            }
            if (c > best_c) {
                best_c = c;
                best = lag;
            }
        }
        printf("%lld\n", best);
        free(y);
    } else if (!strcmp(cmd, "diff")) {
        SF_INFO b;
        if (argc < 4) return fail("diff A B", NULL);
        float *y = read_all(argv[3], &b);
        if (!y) return fail("cannot read", argv[3]);
        if (b.frames != a.frames || b.channels != a.channels) return fail("shapes differ", NULL);
        double mx = 0, s = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)x[i] - y[i]);
            if (d > mx) mx = d;
            s += d * d;
        }
        printf("%g %g\n", mx, n ? sqrt(s / n) : 0.0);
        free(y);
    } else {
        return fail("unknown command", cmd);
    }
    free(x);
    return 0;
}
