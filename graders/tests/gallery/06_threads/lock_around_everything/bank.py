def run_deposits(account, amounts, workers):
    # The lock is held around the approval too: no deposit is lost, but the threads take turns at everything.
    lock = threading.Lock()

    def deposit(amount):
        with lock:
            approve(amount)
            account.balance = account.balance + amount

    with ThreadPoolExecutor(workers) as executor:
        futures = [executor.submit(deposit, amount) for amount in amounts]
    for future in futures:
        future.result()
