# Sourced by ./abyss and ./run-tests: sets ABYSS_JAVA_HOME to a JDK >= 25, or prints one
# line saying what to install and returns 1.
abyss_java_version() { # prints the feature version of $1/bin/java, or nothing
  [ -x "$1/bin/java" ] || return 0
  "$1/bin/java" -XshowSettings:properties -version 2>&1 \
    | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p' | head -n1
}
abyss_find_jdk() {
  local c v
  for c in "${JAVA_HOME:-}" \
           /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk-arm64 \
           /usr/lib/jvm/*25* /usr/lib/jvm/*2[6-9]* /usr/lib/jvm/* \
           /opt/java/* /opt/jdk* /usr/local/jdk* \
           /Library/Java/JavaVirtualMachines/*/Contents/Home \
           "$HOME"/.sdkman/candidates/java/* "$HOME"/.jdks/*; do
    [ -n "$c" ] && [ -x "$c/bin/javac" ] || continue
    v=$(abyss_java_version "$c")
    if [ -n "$v" ] && [ "$v" -ge 25 ] 2>/dev/null; then
      ABYSS_JAVA_HOME="$c"
      return 0
    fi
  done
  echo "abyss: needs a JDK 25 or newer (none found in JAVA_HOME or the usual places); install one (e.g. Temurin 25) and set JAVA_HOME to it" >&2
  return 1
}
