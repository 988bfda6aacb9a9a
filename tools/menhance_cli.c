/* menhance: enhance recorded music files from the command line.
 *
 * Drives the same engine with the same parameters as the LV2 plugin, synchronously (as a
 * host bouncing offline), block by block so files of any length stream through a fixed
 * amount of memory.  The engine's latency is removed: the output lines up sample for sample
 * with the input and has its exact length.  Outputs are written to a temporary file beside
 * the target and renamed into place only when complete, so a failure never leaves a partial
 * file and the input is never touched. */
#include "engine/menhance.h"
#include "tools/audio_file.h"
#include "tools/offline.h"
#include "tools/spectrogram.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef MENHANCE_VERSION
#define MENHANCE_VERSION "0.1"
#endif

/* Exit codes (also in --help). */
enum {
    EXIT_OK = 0,
    EXIT_FILE = 1,   /* an input could not be read, or an output not written */
    EXIT_USAGE = 2,  /* bad command line */
    EXIT_MODEL = 3,  /* --strict and the model could not be used */
    EXIT_ENGINE = 4, /* the engine refused to start */
    EXIT_SIGNAL = 130,
};

enum { DEFAULT_BLOCK = 1024, MAX_BLOCK = 8192, SPECTROGRAM_WIDTH = 1200 };

typedef struct {
    const char *output;
    const char *model_path;
    const char *spectrogram;
    int no_model, strict, quiet, linear_freq, block, mode_set;
    menhance_params params;
    /* --offline: the reference path (tools/offline.h) instead of the engine */
    int offline, engine_opt;
    offline_config off;
} cli_options;

/* Set from the SIGINT/SIGTERM handler, polled between blocks so the temporary output is
 * removed before exiting.  A signal handler can only reach file-scope state. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig) {
    (void)sig;
    interrupted = 1;
}

static const char *mode_name(int mode) {
    switch (mode) {
    case MENHANCE_MODE_CLASSICAL:
        return "classical";
    case MENHANCE_MODE_MEL2MEL:
        return "mel2mel";
    case MENHANCE_MODE_MEL2MEL_VOCODER:
        return "vocoder";
    default:
        return "unknown";
    }
}

static int parse_mode(const char *s) {
    if (!strcmp(s, "classical")) return MENHANCE_MODE_CLASSICAL;
    if (!strcmp(s, "mel2mel")) return MENHANCE_MODE_MEL2MEL;
    if (!strcmp(s, "vocoder") || !strcmp(s, "diffwave") || !strcmp(s, "mel2mel-vocoder"))
        return MENHANCE_MODE_MEL2MEL_VOCODER;
    return -1;
}

static void usage(FILE *f) {
    fprintf(f,
            "Usage: menhance [OPTIONS] IN... -o OUT\n"
            "Enhance music recordings (noise, room, cheap-microphone EQ) with the menhance "
            "engine.\n"
            "\n"
            "  -o, --output PATH      output file; with several inputs (or an existing\n"
            "                         directory) a directory, created if missing, where each\n"
            "                         output keeps its input's file name\n"
            "  -m, --mode NAME        classical | mel2mel | vocoder (default: the plugin's)\n"
            "      --amount X         dry/wet, 0..1\n"
            "      --hiband X         high band above 8 kHz: 0 removes it, 1 keeps it denoised\n"
            "      --strength X       classical suppression strength, 0..2\n"
            "      --max-atten DB     deepest classical cut, 0..40 dB\n"
            "      --model PATH       model file (default: the shipped model)\n"
            "      --no-model         classical mode only; load no model\n"
            "      --strict           fail instead of falling back to classical when the\n"
            "                         model cannot be loaded\n"
            "      --spectrogram PNG  write a before/after spectrogram; with several inputs\n"
            "                         PNG is a directory (DIR/IN.png) or a name stem\n"
            "                         (STEM-IN.png), IN being each input's file name\n"
            "      --linear           linear frequency axis in the spectrogram (default log)\n"
            "      --block N          processing block in samples, 1..%d (default %d)\n"
            "      --which-model      print the default model's path and exit (1: none found)\n"
            "\n"
            "Offline reference path (best quality, not real time; whole file in memory):\n"
            "      --offline          Mel2Mel over the whole clip + DiffWave (or Griffin-Lim)\n"
            "                         at 16 kHz, as the reference system; mono result\n"
            "      --mel2mel PATH     Mel2Mel model (default: --model or the shipped model;\n"
            "                         'none': vocoder resynthesis only)\n"
            "      --vocoder PATH     DiffWave model (default: the Mel2Mel file if it holds\n"
            "                         one, else Griffin-Lim %d iterations)\n"
            "      --steps N          DiffWave steps: the training schedule's count (50,\n"
            "                         default), the fast schedule's (6), or N respaced\n"
            "      --griffin-lim N    Griffin-Lim with N iterations instead of DiffWave\n"
            "  -q, --quiet            no progress or summary, only warnings and errors\n"
            "  -h, --help             this help\n"
            "  -V, --version          version\n"
            "\n"
            "Formats: reads WAV, FLAC, Ogg Vorbis, AIFF (anything libsndfile reads), mono or\n"
            "stereo, 8-192 kHz.  The output container follows OUT's extension (.wav .flac .ogg\n"
            ".aiff .w64 .caf; none: as the input), float for float inputs, else 24-bit.\n"
            "The output has the input's length and timing (the engine's latency is removed).\n"
            "\n"
            "Exit status: 0 success, 1 a file could not be read or written, 2 usage error,\n"
            "3 model unusable with --strict, 4 engine error, 130 interrupted.\n",
            MAX_BLOCK, DEFAULT_BLOCK, OFFLINE_DEFAULT_GL_ITERS);
}

static int parse_float(const char *opt, const char *s, float lo, float hi, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "menhance: %s expects a number in %g..%g, got '%s'\n", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, cli_options *o, int *first_input) {
    enum {
        OPT_AMOUNT = 256,
        OPT_HIBAND,
        OPT_STRENGTH,
        OPT_MAXATT,
        OPT_MODEL,
        OPT_NOMODEL,
        OPT_STRICT,
        OPT_SPECTRO,
        OPT_LINEAR,
        OPT_BLOCK,
        OPT_WHICH,
        OPT_OFFLINE,
        OPT_MEL2MEL,
        OPT_VOCODER,
        OPT_STEPS,
        OPT_GL
    };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"mode", required_argument, NULL, 'm'},
        {"amount", required_argument, NULL, OPT_AMOUNT},
        {"hiband", required_argument, NULL, OPT_HIBAND},
        {"strength", required_argument, NULL, OPT_STRENGTH},
        {"max-atten", required_argument, NULL, OPT_MAXATT},
        {"model", required_argument, NULL, OPT_MODEL},
        {"no-model", no_argument, NULL, OPT_NOMODEL},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"spectrogram", required_argument, NULL, OPT_SPECTRO},
        {"linear", no_argument, NULL, OPT_LINEAR},
        {"block", required_argument, NULL, OPT_BLOCK},
        {"which-model", no_argument, NULL, OPT_WHICH},
        {"offline", no_argument, NULL, OPT_OFFLINE},
        {"mel2mel", required_argument, NULL, OPT_MEL2MEL},
        {"vocoder", required_argument, NULL, OPT_VOCODER},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"griffin-lim", required_argument, NULL, OPT_GL},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->block = DEFAULT_BLOCK;
    menhance_params_default(&o->params);
    int c;
    float v;
    int offline_opt = 0;
    while ((c = getopt_long(argc, argv, "o:m:qhV", longopts, NULL)) != -1) {
        /* engine settings that mean nothing to the offline path */
        o->engine_opt |=
            c == 'm' || (c >= OPT_AMOUNT && c <= OPT_MAXATT) || c == OPT_NOMODEL || c == OPT_BLOCK;
        offline_opt |= c >= OPT_MEL2MEL && c <= OPT_GL;
        switch (c) {
        case 'o':
            o->output = optarg;
            break;
        case 'm':
            o->params.mode = parse_mode(optarg);
            if (o->params.mode < 0) {
                fprintf(stderr, "menhance: unknown mode '%s' (classical, mel2mel, vocoder)\n",
                        optarg);
                return EXIT_USAGE;
            }
            o->mode_set = 1;
            break;
        case OPT_AMOUNT:
            if (parse_float("--amount", optarg, 0, 1, &o->params.amount)) return EXIT_USAGE;
            break;
        case OPT_HIBAND:
            if (parse_float("--hiband", optarg, 0, 1, &o->params.hiband)) return EXIT_USAGE;
            break;
        case OPT_STRENGTH:
            if (parse_float("--strength", optarg, 0, 2, &o->params.strength)) return EXIT_USAGE;
            break;
        case OPT_MAXATT:
            if (parse_float("--max-atten", optarg, 0, 40, &o->params.max_atten_db))
                return EXIT_USAGE;
            break;
        case OPT_MODEL:
            o->model_path = optarg;
            break;
        case OPT_NOMODEL:
            o->no_model = 1;
            break;
        case OPT_STRICT:
            o->strict = 1;
            break;
        case OPT_SPECTRO:
            o->spectrogram = optarg;
            break;
        case OPT_LINEAR:
            o->linear_freq = 1;
            break;
        case OPT_BLOCK:
            if (parse_float("--block", optarg, 1, MAX_BLOCK, &v) || v != floorf(v))
                return EXIT_USAGE;
            o->block = (int)v;
            break;
        case OPT_OFFLINE:
            o->offline = 1;
            break;
        case OPT_MEL2MEL:
            o->off.mel2mel_path = optarg;
            break;
        case OPT_VOCODER:
            o->off.vocoder_path = optarg;
            break;
        case OPT_STEPS:
            if (parse_float("--steps", optarg, 1, 1000, &v) || v != floorf(v)) return EXIT_USAGE;
            o->off.steps = (int)v;
            break;
        case OPT_GL:
            if (parse_float("--griffin-lim", optarg, 1, 10000, &v) || v != floorf(v))
                return EXIT_USAGE;
            o->off.griffin_lim = (int)v;
            break;
        case OPT_WHICH: {
            char path[PATH_MAX];
            if (!menhance_default_model_path(path, sizeof path)) {
                fprintf(stderr, "menhance: no default model found\n");
                exit(EXIT_FILE);
            }
            printf("%s\n", path);
            exit(EXIT_OK);
        }
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            usage(stdout);
            exit(EXIT_OK);
        case 'V':
            printf("menhance %s\n", MENHANCE_VERSION);
            exit(EXIT_OK);
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    *first_input = optind;
    if (optind >= argc) {
        fprintf(stderr, "menhance: no input files (see --help)\n");
        return EXIT_USAGE;
    }
    if (!o->output) {
        fprintf(stderr, "menhance: no output given: use -o OUT (see --help)\n");
        return EXIT_USAGE;
    }
    if (o->no_model && o->model_path) {
        fprintf(stderr, "menhance: --no-model and --model contradict each other\n");
        return EXIT_USAGE;
    }
    if (offline_opt && !o->offline) {
        fprintf(stderr,
                "menhance: --mel2mel, --vocoder, --steps and --griffin-lim need --offline\n");
        return EXIT_USAGE;
    }
    if (o->offline && o->engine_opt) {
        fprintf(stderr, "menhance: --offline takes no engine settings (--mode, --amount, --hiband, "
                        "--strength, --max-atten, --no-model, --block)\n");
        return EXIT_USAGE;
    }
    if (o->off.steps && o->off.griffin_lim) {
        fprintf(stderr, "menhance: --steps (DiffWave) and --griffin-lim exclude each other\n");
        return EXIT_USAGE;
    }
    if (o->offline && o->off.griffin_lim && o->off.vocoder_path) {
        fprintf(stderr, "menhance: --vocoder and --griffin-lim exclude each other\n");
        return EXIT_USAGE;
    }
    /* --model names the file the offline path takes its networks from by default */
    if (o->offline && !o->off.mel2mel_path) o->off.mel2mel_path = o->model_path;
    if (o->no_model && o->mode_set && o->params.mode != MENHANCE_MODE_CLASSICAL) {
        fprintf(stderr, "menhance: --no-model allows only --mode classical\n");
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* ---- paths ---- */

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The before/after PNG both paths write; labels name the files and how the output was made. */
static int write_comparison(const char *png_path, spectrogram *before, spectrogram *after,
                            const char *in_path, const char *out_path, const char *how,
                            int linear) {
    char t_before[PATH_MAX + 32], t_after[PATH_MAX + 64], err[512];
    snprintf(t_before, sizeof t_before, "BEFORE: %s", base_name(in_path));
    snprintf(t_after, sizeof t_after, "AFTER: %s (%s)", base_name(out_path), how);
    spectrogram_panel panels[2] = {{before, t_before}, {after, t_after}};
    if (spectrogram_write_png(png_path, panels, 2,
                              linear ? SPECTROGRAM_LINEAR_FREQ : SPECTROGRAM_LOG_FREQ, err,
                              sizeof err) != 0) {
        fprintf(stderr, "menhance: error: spectrogram: %s\n", err);
        return -1;
    }
    return 0;
}

static int is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int ends_with_slash(const char *s) {
    size_t n = strlen(s);
    return n > 0 && s[n - 1] == '/';
}

/* mkdir -p */
static int make_directories(const char *path) {
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return -1;
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
    return is_directory(buf) ? 0 : -1;
}

static int join_path(char *out, size_t n, const char *dir, const char *name) {
    const char *sep = ends_with_slash(dir) ? "" : "/";
    return snprintf(out, n, "%s%s%s", dir, sep, name) < (int)n ? 0 : -1;
}

/* The spectrogram for input `in` when there are several: DIR/NAME.png or STEM-NAME.png,
 * NAME being the input's file name with its extension (inputs' names are unique). */
static int spectrogram_path_for(const char *arg, const char *in, char *out, size_t n) {
    char stem[PATH_MAX];
    if (is_directory(arg) || ends_with_slash(arg)) {
        if (make_directories(arg) != 0) return -1;
        const char *sep = ends_with_slash(arg) ? "" : "/";
        return snprintf(out, n, "%s%s%s.png", arg, sep, base_name(in)) < (int)n ? 0 : -1;
    }
    snprintf(stem, sizeof stem, "%s", arg);
    size_t len = strlen(stem);
    if (len > 4 && !strcmp(stem + len - 4, ".png")) stem[len - 4] = 0;
    return snprintf(out, n, "%s-%s.png", stem, base_name(in)) < (int)n ? 0 : -1;
}

/* ---- progress ---- */

typedef struct {
    int enabled, last;
    const char *name;
} progress;

static void progress_update(progress *p, long long done, long long total) {
    if (!p->enabled || total <= 0) return;
    int pct = (int)(100 * (done > total ? total : done) / total);
    if (pct == p->last) return;
    p->last = pct;
    char bar[41];
    int fill = pct * 40 / 100;
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[40] = 0;
    fprintf(stderr, "\r%-24.24s [%s] %3d%%", p->name, bar, pct);
    fflush(stderr);
}

static void progress_clear(progress *p) {
    if (p->enabled && p->last >= 0) fprintf(stderr, "\r%78s\r", "");
}

/* ---- one file ---- */

typedef struct {
    SNDFILE *in, *out;
    menhance *engine;
    spectrogram *before, *after;
    float *ibuf, *obuf, *plane_in[2], *plane_out[2], *mono;
    char tmp[PATH_MAX];
    int tmp_made;
} job;

static void job_release(job *j) {
    if (j->in) sf_close(j->in);
    if (j->out) sf_close(j->out);
    if (j->tmp_made) unlink(j->tmp);
    menhance_destroy(j->engine);
    spectrogram_destroy(j->before);
    spectrogram_destroy(j->after);
    free(j->ibuf);
    free(j->obuf);
    free(j->mono);
    for (int c = 0; c < 2; c++) {
        free(j->plane_in[c]);
        free(j->plane_out[c]);
    }
}

/* Creates the temporary output beside `out` (same file system, so rename() is atomic). */
static SNDFILE *open_temp_output(const char *out, SF_INFO *info, char *tmp, size_t n, int *made) {
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", out);
    char *slash = strrchr(dir, '/');
    if (slash)
        slash[1] = 0;
    else
        dir[0] = 0;
    if (snprintf(tmp, n, "%s.%s.menhance-XXXXXX", dir, base_name(out)) >= (int)n) return NULL;
    int fd = mkstemp(tmp);
    if (fd < 0) return NULL;
    *made = 1;
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(fd, 0666 & ~mask) != 0) {
        close(fd);
        return NULL;
    }
    SNDFILE *sf = sf_open_fd(fd, SFM_WRITE, info, SF_TRUE);
    if (!sf) close(fd);
    return sf;
}

/* Opens the temporary output for both paths and reports a failure.  Integer outputs clip
 * rather than wrap around on overs. */
static SNDFILE *open_output(const char *out, SF_INFO *info, char *tmp, size_t n, int *made) {
    errno = 0;
    SNDFILE *sf = open_temp_output(out, info, tmp, n, made);
    if (!sf) {
        fprintf(stderr, "menhance: error: %s: cannot write (%s)\n", out,
                errno ? strerror(errno) : sf_strerror(NULL));
        return NULL;
    }
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    return sf;
}

/* Formats that store integers, where samples beyond full scale are clipped (and counted). */
static int format_is_integer(int format) {
    int sub = format & SF_FORMAT_SUBMASK;
    return sub != SF_FORMAT_FLOAT && sub != SF_FORMAT_DOUBLE && sub != SF_FORMAT_VORBIS;
}

static void downmix(const float *const *planes, int ch, int n, float *mono) {
    if (ch == 1) {
        memcpy(mono, planes[0], (size_t)n * sizeof *mono);
        return;
    }
    for (int i = 0; i < n; i++)
        mono[i] = 0.5f * (planes[0][i] + planes[1][i]);
}

static double elapsed_s(const struct timespec *t0) {
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0->tv_nsec);
}

/* Streams one file through a fresh engine.  Hands *model to it (then clears *model: the
 * engine owns and frees it).  Returns an exit code. */
static int process_file(const cli_options *o, menhance_model **model, int mode, const char *in_path,
                        const char *out_path, const char *png_path) {
    job j = {0};
    char err[512];
    SF_INFO ii, oi;
    int rc = EXIT_FILE;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    j.in = audio_file_open_input(in_path, &ii, err, sizeof err);
    if (!j.in) {
        fprintf(stderr, "menhance: error: %s\n", err);
        return EXIT_FILE;
    }
    if (audio_file_same(in_path, out_path) || (png_path && audio_file_same(in_path, png_path))) {
        fprintf(stderr, "menhance: error: %s: refusing to overwrite the input\n", in_path);
        goto done;
    }
    if (png_path && !strcmp(png_path, out_path)) {
        fprintf(stderr, "menhance: error: the spectrogram and the output are both %s\n", out_path);
        goto done;
    }
    oi = (SF_INFO){.samplerate = ii.samplerate, .channels = ii.channels};
    if (audio_file_output_format(out_path, &ii, &oi.format, err, sizeof err) != 0) {
        fprintf(stderr, "menhance: error: %s\n", err);
        goto done;
    }

    const int ch = ii.channels, block = o->block;
    menhance_config cfg = {.sample_rate = ii.samplerate,
                           .channels = ch,
                           .max_block = block,
                           .nominal_block = block,
                           .threaded = 0};
    j.engine = menhance_create(&cfg, *model, err, sizeof err);
    /* The engine owns the model from here.  create can only fail on bad configuration
     * (ruled out above: the input was validated) or memory, where leaking is harmless. */
    *model = NULL;
    if (!j.engine) {
        fprintf(stderr, "menhance: error: %s: engine: %s\n", in_path, err);
        rc = EXIT_ENGINE;
        goto done;
    }
    menhance_params p = o->params;
    p.mode = mode;
    p.enabled = 1;
    p.synchronous = 1;
    menhance_set_params(j.engine, &p);
    /* Start at the requested settings rather than ramping to them from the defaults over
     * the file's first milliseconds (no worker thread: reset is safe here). */
    menhance_reset(j.engine);
    const long long latency = menhance_latency(j.engine);

    j.ibuf = malloc((size_t)block * ch * sizeof *j.ibuf);
    j.obuf = malloc((size_t)block * ch * sizeof *j.obuf);
    j.mono = malloc((size_t)block * sizeof *j.mono);
    for (int c = 0; c < ch; c++) {
        j.plane_in[c] = malloc((size_t)block * sizeof(float));
        j.plane_out[c] = malloc((size_t)block * sizeof(float));
        if (!j.plane_in[c] || !j.plane_out[c]) goto oom;
    }
    if (!j.ibuf || !j.obuf || !j.mono) goto oom;
    if (png_path) {
        j.before = spectrogram_create(ii.samplerate, ii.frames, SPECTROGRAM_WIDTH);
        j.after = spectrogram_create(ii.samplerate, ii.frames, SPECTROGRAM_WIDTH);
        if (!j.before || !j.after) goto oom;
    }

    j.out = open_output(out_path, &oi, j.tmp, sizeof j.tmp, &j.tmp_made);
    if (!j.out) goto done;
    int integer_out = format_is_integer(oi.format);

    progress prog = {
        .enabled = !o->quiet && isatty(STDERR_FILENO), .last = -1, .name = base_name(in_path)};
    long long read_total = 0, written = 0, to_skip = latency, tail = latency, overs = 0;
    int in_tail = 0;
    for (;;) {
        if (interrupted) {
            rc = EXIT_SIGNAL;
            goto done;
        }
        sf_count_t n = in_tail ? 0 : sf_readf_float(j.in, j.ibuf, block);
        if (n <= 0) {
            in_tail = 1;
            /* Past the end: push the latency's worth of silence to flush the tail out. */
            if (tail == 0) break;
            n = tail < block ? tail : block;
            tail -= n;
            memset(j.ibuf, 0, (size_t)n * ch * sizeof *j.ibuf);
        } else {
            read_total += n;
        }
        for (int c = 0; c < ch; c++)
            for (sf_count_t i = 0; i < n; i++)
                j.plane_in[c][i] = j.ibuf[i * ch + c];
        menhance_process(j.engine, (const float *const *)j.plane_in, j.plane_out, (int)n);

        int skip = (int)(to_skip < n ? to_skip : n);
        to_skip -= skip;
        int keep = (int)n - skip;
        if (keep > 0) {
            for (int c = 0; c < ch; c++)
                for (int i = 0; i < keep; i++) {
                    float y = j.plane_out[c][skip + i];
                    overs += integer_out && fabsf(y) > 1.0f;
                    j.obuf[i * ch + c] = y;
                }
            if (sf_writef_float(j.out, j.obuf, keep) != keep) {
                fprintf(stderr, "menhance: error: %s: write failed (%s)\n", out_path,
                        sf_strerror(j.out));
                goto done;
            }
            written += keep;
            if (j.after) {
                const float *planes[2] = {j.plane_out[0] + skip,
                                          ch > 1 ? j.plane_out[1] + skip : NULL};
                downmix(planes, ch, keep, j.mono);
                spectrogram_push(j.after, j.mono, keep);
            }
        }
        if (j.before && !in_tail) {
            downmix((const float *const *)j.plane_in, ch, (int)n, j.mono);
            spectrogram_push(j.before, j.mono, (int)n);
        }
        progress_update(&prog, read_total + (latency - tail), ii.frames + latency);
    }
    progress_clear(&prog);
    if (sf_error(j.in) != SF_ERR_NO_ERROR) {
        fprintf(stderr, "menhance: error: %s: read failed (%s)\n", in_path, sf_strerror(j.in));
        goto done;
    }
    if (read_total == 0) {
        /* Nothing to enhance, and some containers (FLAC) cannot even hold an empty stream. */
        fprintf(stderr, "menhance: error: %s: contains no audio\n", in_path);
        goto done;
    }
    if (written != read_total) {
        fprintf(stderr, "menhance: error: %s: wrote %lld frames for %lld\n", out_path, written,
                read_total);
        goto done;
    }
    int close_rc = sf_close(j.out);
    j.out = NULL;
    if (close_rc != 0) {
        fprintf(stderr, "menhance: error: %s: %s\n", out_path, sf_error_number(close_rc));
        goto done;
    }
    if (rename(j.tmp, out_path) != 0) {
        fprintf(stderr, "menhance: error: %s: %s\n", out_path, strerror(errno));
        goto done;
    }
    j.tmp_made = 0;
    if (overs)
        fprintf(stderr, "menhance: warning: %s: %lld samples above full scale were clipped\n",
                out_path, overs);

    if (png_path) {
        spectrogram_finish(j.before);
        spectrogram_finish(j.after);
        if (write_comparison(png_path, j.before, j.after, in_path, out_path, mode_name(mode),
                             o->linear_freq) != 0)
            goto done;
    }
    if (!o->quiet) {
        double secs = (double)read_total / ii.samplerate, wall = elapsed_s(&t0);
        fprintf(stderr, "menhance: %s -> %s (%s %s, %d Hz, %s, %.2f s, %s mode, %.1fx real time)\n",
                in_path, out_path, audio_file_container_name(oi.format),
                audio_file_sample_name(oi.format), ii.samplerate, ch == 1 ? "mono" : "stereo", secs,
                mode_name(mode), wall > 0 ? secs / wall : 0.0);
        if (png_path) fprintf(stderr, "menhance: spectrogram -> %s\n", png_path);
    }
    rc = EXIT_OK;
    goto done;
oom:
    fprintf(stderr, "menhance: error: out of memory\n");
done:
    job_release(&j);
    return rc;
}

/* ---- offline reference path ---- */

static void offline_progress(void *user, double fraction) {
    progress_update(user, (long long)(fraction * 1000.0), 1000);
}

/* The whole input (interleaved), however reliable the header's frame count is. */
static float *read_whole(SNDFILE *sf, int ch, long long *frames) {
    size_t cap = 1 << 16, n = 0;
    float *x = malloc(cap * ch * sizeof *x);
    while (x) {
        if (n == cap) {
            float *t = realloc(x, 2 * cap * ch * sizeof *x);
            if (!t) break;
            x = t;
            cap *= 2;
        }
        sf_count_t got = sf_readf_float(sf, x + n * ch, (sf_count_t)(cap - n));
        if (got <= 0) {
            *frames = (long long)n;
            return x;
        }
        n += (size_t)got;
    }
    free(x);
    return NULL;
}

/* Like process_file, through the offline path (tools/offline.h) on the whole file. */
static int process_file_offline(const cli_options *o, offline *off, const char *in_path,
                                const char *out_path, const char *png_path) {
    job j = {0};
    char err[512];
    SF_INFO ii, oi;
    int rc = EXIT_FILE;
    long long frames = 0, overs = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    j.in = audio_file_open_input(in_path, &ii, err, sizeof err);
    if (!j.in) {
        fprintf(stderr, "menhance: error: %s\n", err);
        return EXIT_FILE;
    }
    if (audio_file_same(in_path, out_path) || (png_path && audio_file_same(in_path, png_path)) ||
        (png_path && !strcmp(png_path, out_path))) {
        fprintf(stderr, "menhance: error: %s: refusing to overwrite the input or the output\n",
                in_path);
        goto done;
    }
    oi = (SF_INFO){.samplerate = ii.samplerate, .channels = ii.channels};
    if (audio_file_output_format(out_path, &ii, &oi.format, err, sizeof err) != 0) {
        fprintf(stderr, "menhance: error: %s\n", err);
        goto done;
    }
    const int ch = ii.channels;
    if (!(j.ibuf = read_whole(j.in, ch, &frames))) goto oom;
    if (sf_error(j.in) != SF_ERR_NO_ERROR) {
        fprintf(stderr, "menhance: error: %s: read failed (%s)\n", in_path, sf_strerror(j.in));
        goto done;
    }
    if (frames == 0) {
        fprintf(stderr, "menhance: error: %s: contains no audio\n", in_path);
        goto done;
    }
    if (!(j.obuf = malloc((size_t)frames * ch * sizeof *j.obuf))) goto oom;
    progress prog = {
        .enabled = !o->quiet && isatty(STDERR_FILENO), .last = -1, .name = base_name(in_path)};
    if (offline_process(off, j.ibuf, (long)frames, ch, ii.samplerate, j.obuf, offline_progress,
                        &prog, err, sizeof err) != 0) {
        progress_clear(&prog);
        fprintf(stderr, "menhance: error: %s: %s\n", in_path, err);
        rc = EXIT_ENGINE;
        goto done;
    }
    progress_clear(&prog);
    j.out = open_output(out_path, &oi, j.tmp, sizeof j.tmp, &j.tmp_made);
    if (!j.out) goto done;
    if (format_is_integer(oi.format))
        for (long long i = 0; i < frames * ch; i++)
            overs += fabsf(j.obuf[i]) > 1.0f;
    if (sf_writef_float(j.out, j.obuf, frames) != frames) {
        fprintf(stderr, "menhance: error: %s: write failed (%s)\n", out_path, sf_strerror(j.out));
        goto done;
    }
    int close_rc = sf_close(j.out);
    j.out = NULL;
    if (close_rc != 0 || rename(j.tmp, out_path) != 0) {
        fprintf(stderr, "menhance: error: %s: %s\n", out_path,
                close_rc ? sf_error_number(close_rc) : strerror(errno));
        goto done;
    }
    j.tmp_made = 0;
    if (overs)
        fprintf(stderr, "menhance: warning: %s: %lld samples above full scale were clipped\n",
                out_path, overs);
    if (png_path) {
        j.before = spectrogram_create(ii.samplerate, frames, SPECTROGRAM_WIDTH);
        j.after = spectrogram_create(ii.samplerate, frames, SPECTROGRAM_WIDTH);
        if (!j.before || !j.after || !(j.mono = malloc((size_t)frames * sizeof *j.mono))) goto oom;
        for (int k = 0; k < 2; k++) {
            const float *src = k ? j.obuf : j.ibuf;
            for (long long i = 0; i < frames; i++)
                j.mono[i] = ch == 1 ? src[i] : 0.5f * (src[2 * i] + src[2 * i + 1]);
            spectrogram_push(k ? j.after : j.before, j.mono, (int)frames);
            spectrogram_finish(k ? j.after : j.before);
        }
        if (write_comparison(png_path, j.before, j.after, in_path, out_path, "offline",
                             o->linear_freq) != 0)
            goto done;
    }
    if (!o->quiet) {
        double secs = (double)frames / ii.samplerate, wall = elapsed_s(&t0);
        fprintf(stderr, "menhance: %s -> %s (%s %s, %d Hz, %s, %.2f s, offline, %.2fx real time)\n",
                in_path, out_path, audio_file_container_name(oi.format),
                audio_file_sample_name(oi.format), ii.samplerate, ch == 1 ? "mono" : "stereo", secs,
                wall > 0 ? secs / wall : 0.0);
    }
    rc = EXIT_OK;
    goto done;
oom:
    fprintf(stderr, "menhance: error: out of memory\n");
done:
    job_release(&j);
    return rc;
}

/* ---- model ---- */

/* Which model file the mode needs (NULL for classical); writes a reason into err when none. */
static const char *model_path_for(const cli_options *o, int mode, char *buf, size_t len, char *err,
                                  size_t errlen) {
    if (mode == MENHANCE_MODE_CLASSICAL) return NULL;
    if (o->model_path) return o->model_path;
    if (menhance_default_model_path(buf, len)) return buf;
    snprintf(err, errlen, "no model file found (set MENHANCE_MODEL_DIR or use --model)");
    return NULL;
}

/* Decides the mode for the whole run and loads the first model.  Mirrors the plugin: a
 * missing or broken model falls back to the classical mode with a warning (unless
 * --strict).  The engine takes ownership of the model it is given and a model's streaming
 * state serves one engine, so later files load their own copy. */
static int prepare_model(const cli_options *o, menhance_model **model, int *mode, char *path_buf,
                         size_t path_len) {
    *model = NULL;
    *mode = o->no_model ? MENHANCE_MODE_CLASSICAL : o->params.mode;
    if (*mode == MENHANCE_MODE_CLASSICAL) return EXIT_OK;
    char err[512] = "";
    const char *path = model_path_for(o, *mode, path_buf, path_len, err, sizeof err);
    if (path) {
        if (path != path_buf) snprintf(path_buf, path_len, "%s", path);
        *model = menhance_model_load(path_buf, err, sizeof err);
    }
    if (*model) {
        if (!o->quiet)
            fprintf(stderr, "menhance: model %s (%s)\n", path_buf, menhance_model_describe(*model));
        return EXIT_OK;
    }
    const char *sep = path ? ": " : "";
    if (o->strict) {
        fprintf(stderr, "menhance: error: %s%s%s\n", path ? path_buf : "", sep, err);
        return EXIT_MODEL;
    }
    fprintf(stderr, "menhance: warning: %s%s%s; falling back to the classical mode\n",
            path ? path_buf : "", sep, err);
    *mode = MENHANCE_MODE_CLASSICAL;
    return EXIT_OK;
}

int main(int argc, char **argv) {
    cli_options o;
    int first;
    int rc = parse_options(argc, argv, &o, &first);
    if (rc != EXIT_OK) return rc;
    int ninputs = argc - first;
    char **inputs = argv + first;

    /* Where outputs go: one file, or a directory for several inputs. */
    int to_dir = ninputs > 1 || is_directory(o.output) || ends_with_slash(o.output);
    if (to_dir && make_directories(o.output) != 0) {
        fprintf(stderr, "menhance: error: cannot create directory %s: %s\n", o.output,
                strerror(errno));
        return EXIT_FILE;
    }

    menhance_model *model = NULL;
    int mode = MENHANCE_MODE_CLASSICAL;
    char model_path[PATH_MAX];
    offline *off = NULL;
    if (o.offline) {
        /* Networks are read-only while processing: one load serves every file. */
        char err[512], warn[512];
        off = offline_create(&o.off, err, sizeof err, warn, sizeof warn);
        if (!off) {
            fprintf(stderr, "menhance: error: %s\n", err);
            return EXIT_MODEL;
        }
        if (warn[0]) fprintf(stderr, "menhance: warning: %s\n", warn);
        if (!o.quiet) fprintf(stderr, "menhance: offline: %s\n", offline_describe(off));
    } else {
        rc = prepare_model(&o, &model, &mode, model_path, sizeof model_path);
        if (rc != EXIT_OK) return rc;
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int failures = 0, worst = EXIT_OK;
    for (int i = 0; i < ninputs && !interrupted; i++) {
        char out[PATH_MAX], png[PATH_MAX];
        const char *png_path = NULL;
        int file_rc = EXIT_OK;
        /* Two inputs with one name would write one output twice. */
        for (int k = 0; k < i && to_dir; k++)
            if (!strcmp(base_name(inputs[k]), base_name(inputs[i]))) {
                fprintf(stderr, "menhance: error: %s: another input has the same name\n",
                        inputs[i]);
                file_rc = EXIT_FILE;
            }
        if (file_rc == EXIT_OK && to_dir &&
            join_path(out, sizeof out, o.output, base_name(inputs[i])) != 0) {
            fprintf(stderr, "menhance: error: %s: path too long\n", inputs[i]);
            file_rc = EXIT_FILE;
        } else if (!to_dir) {
            snprintf(out, sizeof out, "%s", o.output);
        }
        if (file_rc == EXIT_OK && o.spectrogram) {
            if (ninputs == 1) {
                png_path = o.spectrogram;
            } else if (spectrogram_path_for(o.spectrogram, inputs[i], png, sizeof png) == 0) {
                png_path = png;
            } else {
                fprintf(stderr, "menhance: error: %s: bad spectrogram path\n", o.spectrogram);
                file_rc = EXIT_FILE;
            }
        }
        if (file_rc == EXIT_OK && mode != MENHANCE_MODE_CLASSICAL && !model) {
            char err[512];
            model = menhance_model_load(model_path, err, sizeof err);
            if (!model) {
                fprintf(stderr, "menhance: error: %s: %s\n", model_path, err);
                file_rc = o.strict ? EXIT_MODEL : EXIT_FILE;
            }
        }
        if (file_rc == EXIT_OK) {
            file_rc = off ? process_file_offline(&o, off, inputs[i], out, png_path)
                          : process_file(&o, &model, mode, inputs[i], out, png_path);
        }
        if (file_rc != EXIT_OK) {
            failures++;
            if (worst == EXIT_OK || file_rc > worst) worst = file_rc;
        }
    }
    menhance_model_free(model); /* one never handed to an engine */
    offline_destroy(off);
    if (interrupted) {
        fprintf(stderr, "menhance: interrupted\n");
        return EXIT_SIGNAL;
    }
    if (failures && ninputs > 1)
        fprintf(stderr, "menhance: %d of %d files failed\n", failures, ninputs);
    return worst;
}
