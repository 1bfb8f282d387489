
2x2samples2count2f2file.c2g